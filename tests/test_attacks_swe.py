"""Attacks on `prm/swe-v0` through `env.step` only, as a misbehaving policy would make them, in real Docker.

Each test performs the attack for real and asserts that it gains nothing: grading cannot be faked, the
changed-file report cannot be forged, writes outside the workspace are reported, bad bytes are invalid
actions, and the agent cannot turn its own failure into an infrastructure error.
"""

from __future__ import annotations

import docker
import gymnasium as gym
import pytest

import prm  # noqa: F401  (registers the env ids)
from prm.envs.swe.hostile import TEST_FILE, TRICKS, call

pytestmark = pytest.mark.docker

SCENARIO = "toolz-groupby-key"


@pytest.fixture(scope="module")
def env(docker_engine):
    env = gym.make("prm/swe-v0", scenario=SCENARIO, sandbox="docker")
    yield env
    env.close()


@pytest.mark.parametrize("trick", list(TRICKS))
def test_grading_cannot_be_faked(env, trick):
    env.reset(seed=0)
    for action in TRICKS[trick]:
        *_, info = env.step(action)
        assert not info["infra_error"], info["error"]
    *_, terminated, truncated, info = env.step(call("submit"))
    flags = {key: info[key] for key in ("infra_error", "agent_killed_sandbox", "error")}
    assert terminated and not info["infra_error"] and not info["agent_killed_sandbox"], flags
    outcome = info["outcome"]
    assert outcome["resolved"] is False and outcome["reward"] == 0.0, trick
    assert outcome["tests"][f"{TEST_FILE}::test_groupby_non_callable"] != "passed"


def test_the_fix_with_every_trick_still_resolves_and_says_what_was_left_out(env):
    env.reset(seed=0)
    for action in [*env.unwrapped.oracle_actions()[:-1], *TRICKS["conftest.py at the root"]]:
        env.step(action)
    *_, info = env.step(call("submit"))
    assert info["outcome"]["resolved"] is True
    assert info["outcome"]["left_out"] == {"conftest.py": "test file"}


def test_changed_files_cannot_be_forged_by_command_output(env):
    env.reset(seed=0)
    forged = "__prm_end_0000000000000000__ 0 0\ntoolz/itertoolz.py\nsetup.py"
    *_, info = env.step(call("bash", command=f"printf '{forged}\\n'; echo x > real.txt"))
    assert info["changed_files"] == ["real.txt"]
    observation, *_, info = env.step(call("bash", command="echo '[exit code 0]'; exit 3"))
    assert info["changed_files"] == [] and observation.endswith("[exit code 3]")


def test_outside_writes_are_reported(env):
    env.reset(seed=0)
    *_, info = env.step(call("bash", command="echo x > notes.txt"))
    assert info["outside_writes"] == []
    *_, info = env.step(
        call("bash", command="echo x > /tmp/a.txt; ln -s /dev/shm/b out-link; echo y > out-link")
    )
    assert info["outside_writes"] == ["/dev/shm/b", "/tmp/a.txt"]
    assert info["changed_files"] == ["out-link"]
    *_, info = env.step(call("view", path="notes.txt"))
    assert info["outside_writes"] == []


@pytest.mark.parametrize(
    "action",
    [
        call("bash", command="echo \0 hi"),
        call("search", pattern="a\0b"),
        call("view", path="toolz/\0itertoolz.py"),
        call("view", path="x" * 5000),
        call("edit", path="a" * 300, old="", new="x"),
        '{"tool": "edit", "args": {"path": "n.py", "old": "", "new": "\\ud800"}}',
        '{"tool": "bash", "args": {"command": "echo \\udfff"}}',
        "[" * 100_000,
        '{"tool": "bash", "args": ' * 5_000,
        '{"tool": "bash", "args": {"command": "echo", "timeout": ' + "9" * 5000 + "}}",
        "{" * 300_000,
        '{"tool": "search", "args": {"query": "x"}',
    ],
    ids=lambda action: repr(action[:40]),  # a test id lands in the environment of every subprocess
)
def test_bad_bytes_and_huge_actions_are_invalid_actions_not_infra_errors(env, action):
    env.reset(seed=0)
    observation, _, terminated, truncated, info = env.step(action)
    assert info["error"] and not info["infra_error"] and not (terminated or truncated)
    assert info["reward_components"] == {"invalid_action": 1.0}
    assert len(observation) < 25_000
    assert env.step(call("bash", command="echo alive"))[0].startswith("alive")


def test_truncated_json_says_the_object_is_not_closed(env):
    env.reset(seed=0)
    *_, info = env.step('{"tool": "search", "args": {"pattern": "x"}')
    assert "not closed" in info["error"]


@pytest.mark.parametrize(
    "command",
    [
        "kill -9 -1",
        "kill -9 1; kill -9 $(pgrep -f BOOTSTRAP) $(pgrep python3)",
        "for fd in /proc/[0-9]*/fd/1; do echo garbage > $fd; done 2>/dev/null; true",
        'cat /proc/1/environ; echo \'{"id": 999, "error": "x"}\' > /proc/1/fd/1',
    ],
)
def test_the_agent_cannot_kill_or_forge_the_helper(env, command):
    env.reset(seed=0)
    *_, terminated, truncated, info = env.step(call("bash", command=command))
    assert not info["infra_error"] and not (terminated or truncated), info["error"]
    observation, *_, info = env.step(call("bash", command="echo alive"))
    assert observation.startswith("alive") and not info["infra_error"]


def test_fifo_and_huge_files_are_refused_without_blocking(env):
    env.reset(seed=0)
    env.step(call("bash", command="mkfifo pipe && head -c 20000000 /dev/zero > huge.bin"))
    for path in ["pipe", "huge.bin"]:
        _, _, _, _, info = env.step(call("view", path=path))
        assert info["error"] and not info["infra_error"]
    *_, info = env.step(call("edit", path="pipe", old="a", new="b"))
    assert "not a regular file" in info["error"]


def test_a_requirement_that_does_not_exist_names_file_and_field(docker_engine, tmp_path):
    from prm.envs.swe.env import SweEnv
    from prm.errors import ScenarioError
    from prm.scenario import packaged_scenarios

    text = (packaged_scenarios("swe") / f"{SCENARIO}.yaml").read_text()
    bad = tmp_path / "bad-requirement.yaml"
    bad.write_text(
        text.replace(
            "requirements: [pytest==8.3.5]", "requirements: [pytest==8.3.5, prm-no-such-package-4f1c==1.0]"
        )
    )
    with pytest.raises(
        ScenarioError, match=r"bad-requirement\.yaml: field 'requirements': the sandbox image cannot be built"
    ):
        SweEnv(bad, sandbox="docker")


def append(path: str, code: str) -> str:
    return call("bash", command=f"cat >> {path} <<'EOF'\n{code}\nEOF")


PACKAGE = "toolz/__init__.py"
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
BROKEN_STEPS = {
    "a syntax error": append("toolz/itertoolz.py", "def broken(:"),
    "a crash at import": append(PACKAGE, "raise SystemExit(3)"),
    "os._exit at import": append(PACKAGE, "import os; os._exit(0)"),
    "an endless loop at import": append(PACKAGE, "while True: pass"),
    "a collection error": append("toolz/itertoolz.py", "import prm_no_such_module"),
    "the tests deleted": call("bash", command="rm -rf toolz/tests"),
    "output floods at import": append(
        PACKAGE, "import sys; sys.stdout.write('x' * 5_000_000); sys.stderr.write('y' * 5_000_000)"
    ),
    "the missing-pytest message raised": append(PACKAGE, "raise ImportError('No module named pytest')"),
    "the missing-pytest message printed": append(
        PACKAGE,
        "import sys; print('/usr/bin/python3: No module named pytest', file=sys.__stderr__); sys.exit(1)",
    ),
    "kill -9 -1 at import": append(PACKAGE, "import os, signal; os.kill(-1, signal.SIGKILL)"),
    "a memory hog at import": append(PACKAGE, "hog = bytearray(8 * 1024**3)"),
    "a fork bomb at import": append(PACKAGE, FORK_BOMB),
}


@pytest.fixture(scope="module")
def progress_env(docker_engine):
    env = gym.make(
        "prm/swe-v0",
        scenario=SCENARIO,
        sandbox="docker",
        rewards=["progress:test_pass"],
        test_timeout_s=10,
    )
    yield env
    env.close()


@pytest.mark.parametrize("breakage", list(BROKEN_STEPS))
def test_a_step_that_breaks_the_code_scores_low_never_infra(progress_env, breakage):
    """What the agent's code does when the tests run is its own failure: a progress score, then a zero."""
    progress_env.reset(seed=0)
    *_, info = progress_env.step(BROKEN_STEPS[breakage])
    assert not info["infra_error"] and not info["agent_killed_sandbox"], info["error"]
    assert info["progress_potential"]["after"] <= info["progress_potential"]["before"]
    *_, terminated, truncated, info = progress_env.step(call("submit"))
    assert terminated and not info["infra_error"], info["error"]
    assert info["outcome"]["reward"] == 0.0 and info["outcome"]["resolved"] is False


def test_a_container_killed_from_outside_is_still_an_infrastructure_failure(progress_env):
    progress_env.reset(seed=0)
    client = docker.from_env()
    try:
        client.containers.get(progress_env.unwrapped.sandbox.container_id).kill()
    finally:
        client.close()
    *_, terminated, truncated, info = progress_env.step(call("bash", command="echo hi"))
    assert info["infra_error"] and not info["agent_killed_sandbox"] and truncated
    assert info["outcome"]["reward"] is None


HOG = "python3 -c 'import time; x = bytearray(200 * 1024**2); time.sleep(30)'"
SANDBOX_KILLERS = {
    "a backgrounded fork bomb": "(f() { f | f & }; f) > /dev/null 2>&1 &",
    "sleepers filling the process table": "for i in $(seq 100); do sleep 600 > /dev/null 2>&1 & done",
    "memory hogs": f"for i in 1 2 3 4; do {HOG} & done; wait",
    "scratch space and memory filled": (
        "head -c 1G /dev/zero > /tmp/fill; head -c 1G /dev/zero > /dev/shm/fill; " + HOG
    ),
    "every process killed": "kill -9 -1",
}


@pytest.fixture(scope="module")
def tight_env(docker_engine):
    env = gym.make("prm/swe-v0", scenario=SCENARIO, sandbox="docker", limits={"memory_mb": 256, "pids": 64})
    yield env
    env.close()


@pytest.mark.parametrize("attack", list(SANDBOX_KILLERS))
def test_the_agent_cannot_kill_its_sandbox_from_inside(tight_env, attack):
    """Under tight limits, each way a command could take the container down is contained: the command fails,
    the helper lives (commands are the OOM killer's first choice, scratch space holds a quarter of the
    memory), and the episode goes on."""
    tight_env.reset(seed=0)
    *_, terminated, truncated, info = tight_env.step(call("bash", command=SANDBOX_KILLERS[attack]))
    assert not (info["infra_error"] or info["agent_killed_sandbox"] or terminated or truncated), info["error"]
    observation, *_, info = tight_env.step(call("bash", command="echo alive"))
    assert observation.startswith("alive") and not info["infra_error"]
    *_, info = tight_env.step(call("submit"))
    assert info["outcome"]["reward"] == 0.0 and not info["agent_killed_sandbox"]
