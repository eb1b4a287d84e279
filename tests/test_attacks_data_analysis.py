"""Attacks on prm/data-analysis-v0: the agent's code is an adversary inside the kernel. Each attack gets an
explanatory observation, the episode goes on (never an infrastructure error), nothing reaches the host or the
hidden material, and the next reset starts clean."""

from __future__ import annotations

import json
import shlex
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import gymnasium as gym
import pytest

from prm.envs.data_analysis.hostile import FIND_CHANNEL
from prm.envs.data_analysis.kernel import accept_kernel, listening
from prm.sandboxes.docker import SOCKETS
from prm.sandboxes.images import AGENT_UID

pytestmark = pytest.mark.docker


def python(code: str, **extra) -> str:
    return json.dumps({"tool": "python", "args": {"code": code, **extra}})


@pytest.fixture(scope="module")
def env(request):
    request.getfixturevalue("docker_engine")
    env = gym.make("prm/data-analysis-v0", scenario="dabench-0", max_steps=100)
    env.reset(seed=0)
    yield env
    env.close()


def step(env, code: str, **extra) -> tuple[str, dict]:
    observation, _, terminated, truncated, info = env.step(python(code, **extra))
    assert not (terminated or truncated) and not info["infra_error"], observation
    return observation, info


def test_a_100_mb_print_is_cut_and_marked(env):
    observation, info = step(env, "print('x' * 100_000_000)")
    assert "[prm: output truncated:" in observation and len(observation) < 30_000
    assert step(env, "os_ok = 1; os_ok")[0] == "1\n"


def test_output_written_past_python_to_the_raw_fds_is_captured_and_capped(env):
    observation, _ = step(
        env, "import os\nfor _ in range(2000): os.write(1, b'y' * 50_000)\nos.system('echo sub')"
    )
    assert "[prm: output truncated:" in observation and observation.startswith("yyy")


def test_sleeping_forever_is_interrupted_and_the_variables_survive(env):
    step(env, "kept = 42")
    observation, info = step(env, "import time; time.sleep(10_000)", timeout=1)
    assert "interrupted at the 1 s timeout" in observation and info["reward_components"]["exec_error"] == 1.0
    assert step(env, "kept")[0] == "42\n"


def test_a_cell_that_swallows_the_interrupt_gets_a_fresh_kernel_and_is_told(env):
    step(env, "kept = 42")
    code = "import time\nwhile True:\n    try:\n        time.sleep(10_000)\n    except BaseException:\n        pass"
    observation, info = step(env, code, timeout=1)
    assert "the kernel was restarted" in observation and info["reward_components"]["exec_error"] == 1.0
    assert "NameError" in step(env, "kept")[0]


def test_killing_the_kernel_or_everything_in_reach_restarts_the_kernel_not_the_sandbox(env):
    assert "the kernel was restarted" in step(env, "import os; os._exit(1)")[0]
    step(env, "import os, signal; os.kill(-1, signal.SIGKILL)")  # cannot reach the sandbox helper's uid
    assert env.unwrapped.sandbox.exec("echo alive").stdout == "alive\n"
    assert step(env, "1 + 1")[0] == "2\n"


@pytest.mark.parametrize(
    ("attack", "said"),
    [
        (
            "for fd in range(3, 12):\n    try:\n        os.write(fd, b'{not json\\n' * 3)\n    except OSError:\n        pass",
            "corrupted",
        ),
        ("os.write(channel, b'{garbage\\n')", "corrupted"),
        ("socket.socket(fileno=os.dup(channel)).shutdown(socket.SHUT_RDWR)", "channel closed"),
        ("while True:\n    os.write(channel, b'x' * 65536)", "flooded"),
    ],
    ids=["forged-fds", "garbage", "closed", "flooded"],
)
def test_garbage_a_close_or_a_flood_on_the_kernels_channel_restarts_the_kernel(env, attack, said):
    observation, _ = step(env, FIND_CHANNEL + attack)
    assert "the kernel was restarted" in observation and said in observation
    assert step(env, "2 + 2")[0] == "4\n"


def test_a_cell_cannot_connect_to_its_channel_again_nor_list_or_write_the_sockets_dir(env):
    code = FIND_CHANNEL + (  # the host's listening socket is gone once the kernel connected
        "name = os.path.basename(socket.socket(fileno=os.dup(channel)).getpeername())\n"
        "for attempt in (lambda: socket.socket(socket.AF_UNIX).connect(f'{SOCKETS}/{name}'),\n"
        "                lambda: os.listdir(SOCKETS), lambda: open(f'{SOCKETS}/x.sock', 'w')):\n"
        "    try:\n"
        "        attempt()\n"
        "    except OSError as err:\n"
        "        print(type(err).__name__)"
    )
    observation, _ = step(env, f"SOCKETS = {SOCKETS!r}\n" + code)
    assert observation.split() == ["FileNotFoundError", "PermissionError", "OSError"]
    assert step(env, "2 + 6")[0] == "8\n"


def test_a_socket_waiting_for_another_kernel_is_out_of_reach_of_cells_and_sandbox_commands(env):
    sandbox, other_uid = env.unwrapped.sandbox, env.unwrapped.kernel.uid + 1
    with listening(sandbox.sockets_dir, other_uid) as (listener, name):  # as another kernel's start does
        connect = (
            "import socket\ntry:\n"
            f"    socket.socket(socket.AF_UNIX).connect('{SOCKETS}/{name}')\n"
            "except OSError as err:\n    print(type(err).__name__)"
        )
        assert step(env, connect)[0] == "PermissionError\n"
        assert sandbox.exec(f"python3 -c {shlex.quote(connect)}").stdout == "PermissionError\n"
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # no connection got through
    listed = sandbox.exec(f"ls {SOCKETS} || touch {SOCKETS}/x || echo refused")
    assert listed.stdout == "refused\n" and "Permission denied" in listed.stderr


def test_only_a_connection_presenting_the_secret_becomes_the_channel(env):
    sandbox, secret = env.unwrapped.sandbox, "s3cret"
    with listening(sandbox.sockets_dir, AGENT_UID) as (listener, name):  # a listener the commands may reach
        client = (
            "import json, socket\n"
            "def hello(secret, pid):\n"
            "    s = socket.socket(socket.AF_UNIX)\n"
            f"    s.connect('{SOCKETS}/{name}')\n"
            "    s.sendall(json.dumps({'secret': secret, 'pid': pid}).encode() + b'\\n')\n"
            "    return s\n"
            "print('dropped' if hello('a guess', 1).recv(1) == b'' else 'kept', flush=True)\n"
            f"hello({secret!r}, 2).recv(1)"
        )
        with ThreadPoolExecutor(1) as pool:
            command = pool.submit(sandbox.exec, f"python3 -c {shlex.quote(client)}", 60)
            never_ends, _ = socket.socketpair()  # stands for a kernel's exec that stays alive
            channel, hello = accept_kernel(listener, secret, time.monotonic() + 60, never_ends)
            channel.close()
            assert hello["pid"] == 2 and command.result().stdout == "dropped\n"


def test_a_fork_bomb_is_contained(env):
    observation, _ = step(env, "import os\nwhile True:\n    os.fork()", timeout=5)
    assert "BlockingIOError" in observation or "the kernel was restarted" in observation
    assert step(env, "3 + 3")[0] == "6\n"
    assert env.unwrapped.sandbox.exec("echo alive").stdout == "alive\n"


def test_a_30_gb_allocation_is_a_memory_error_and_the_kernel_lives(env):
    step(env, "kept = 7")
    observation, _ = step(env, "import numpy as np; a = np.ones(30 * 2**30 // 8)")
    assert "MemoryError" in observation or "Unable to allocate" in observation
    assert step(env, "kept")[0] == "7\n"


def test_no_network(env):
    observation, info = step(env, "import socket; socket.create_connection(('1.1.1.1', 80), timeout=3)")
    assert "OSError" in observation and info["reward_components"]["exec_error"] == 1.0


def test_the_table_is_read_only_and_no_hidden_material_is_in_the_sandbox(env):
    assert "PermissionError" in step(env, "open('test_ave.csv', 'a')")[0]
    assert "PermissionError" in step(env, "open('/workspace/new.py', 'w')")[0]
    code = "import os\nsorted(os.listdir('.')), [k for k in os.environ if 'PRM' in k or 'ANSWER' in k]"
    assert step(env, code)[0] == "(['test_ave.csv'], [])\n"
    found = env.unwrapped.sandbox.exec("grep -rls 'mean_fare\\[34' / 2>/dev/null | head -3", timeout=60)
    assert found.stdout == ""


def test_sabotaging_the_probe_gives_nothing_and_keeps_the_kernel(env):
    step(env, "import pandas as pd\nfare = round(pd.read_csv('test_ave.csv')['Fare'].mean(), 2)")
    assert env.unwrapped.probe() == 1.0
    step(env, "import os\nreal_fork, os.fork = os.fork, None")
    assert env.unwrapped.probe() == 0.0
    assert step(env, "os.fork = real_fork\nfare")[0] == "np.float64(34.65)\n"


def test_system_exit_does_not_end_the_kernel(env):
    step(env, "kept = 5")
    observation, _ = step(env, "raise SystemExit(3)")
    assert "SystemExit(3) ignored" in observation
    assert step(env, "kept")[0] == "5\n"


def test_a_wrong_format_answer_ends_with_score_zero_and_says_why(env):
    observation, reward, terminated, truncated, info = env.step(
        json.dumps({"tool": "answer", "args": {"text": "the mean fare is 34.65"}})
    )
    assert terminated and not truncated and reward == 0.0 and not info["infra_error"]
    assert "Answer rejected" in observation and info["reward_components"]["answer_format"] == 0.0
    assert info["outcome"]["correct"] is False and "@name[value]" in info["outcome"]["answer_error"]


def test_the_next_reset_starts_clean(env):
    env.reset(seed=0)
    step(env, "leftover = 1\nopen('/tmp/scratch', 'w').write('x')")
    env.reset(seed=1)
    assert "NameError" in step(env, "leftover")[0]
    assert step(env, "import os; os.path.exists('/tmp/scratch')")[0] == "False\n"
