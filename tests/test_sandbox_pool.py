"""`SandboxPool` hands out fresh, started, independent sandboxes, refills itself, and leaves nothing behind;
`prm/swe-v0` resets take their sandboxes from one."""

from __future__ import annotations

import docker
import gymnasium as gym
import pytest
from docker.errors import NotFound

import prm  # noqa: F401
from prm.errors import SandboxError
from prm.sandboxes.local import LocalSandbox
from prm.sandboxes.pool import SandboxPool


@pytest.fixture
def seed_dir(tmp_path):
    (tmp_path / "seed").mkdir()
    (tmp_path / "seed" / "a.txt").write_text("start")
    return tmp_path / "seed"


def _counting(seed_dir, opened):
    def open_one():
        opened.append(LocalSandbox(workspace_from=seed_dir))
        return opened[-1]

    return open_one


def _is_closed(sandbox) -> bool:
    try:
        sandbox.exec("true")
    except SandboxError:
        return True
    return False


def test_take_hands_out_fresh_independent_sandboxes_and_refills(seed_dir):
    opened = []
    with SandboxPool(_counting(seed_dir, opened), size=2) as pool:
        first, second = pool.take(), pool.take()
        assert first is not second
        first.write_file("a.txt", "changed by the first agent")
        assert second.read_file("a.txt") == b"start"  # seeded, and not shared
        pool.wait_ready()
        assert len(opened) == 4  # two handed out, two started again to refill
        pool.release(first)
        third = pool.take()
        assert third not in (first, second) and third.read_file("a.txt") == b"start"
    waiting = [sandbox for sandbox in opened if sandbox not in (first, second, third)]
    assert all(_is_closed(sandbox) for sandbox in [first, *waiting])  # released + never handed out
    assert not _is_closed(second) and not _is_closed(third)  # the caller's to close
    second.close()
    third.close()


def test_a_failed_start_is_retried_and_a_persistent_failure_reaches_the_caller(seed_dir):
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) == 1:
            raise SandboxError("engine hiccup")
        return LocalSandbox(workspace_from=seed_dir)

    with SandboxPool(flaky, size=1) as pool:
        sandbox = pool.take()
        assert sandbox.read_file("a.txt") == b"start"
        sandbox.close()

    def broken():
        raise SandboxError("no engine")

    with SandboxPool(broken, size=1) as pool, pytest.raises(SandboxError, match="no engine"):
        pool.take()
    with pytest.raises(SandboxError, match="closed"):
        pool.take()
    with pytest.raises(ValueError, match="at least one"):
        SandboxPool(broken, size=0)


@pytest.mark.docker
def test_swe_resets_use_the_pool_and_close_leaves_no_container():
    client = docker.from_env()
    env = gym.make("prm/swe-v0", scenario="toolz-groupby-key", sandbox="docker", warm_pool=1)
    used = []
    try:
        for _ in range(3):
            env.reset(seed=0)
            used.append(env.unwrapped.sandbox.container_id)
            assert env.unwrapped.sandbox.exec("git status --porcelain").stdout == ""  # a fresh start state
        env.step('{"tool": "bash", "args": {"command": "echo x > new.txt"}}')
        env.reset(seed=0)
        assert env.unwrapped.sandbox.exec("ls new.txt").exit_code != 0  # never a used sandbox again
        used.append(env.unwrapped.sandbox.container_id)
        assert len(set(used)) == 4
    finally:
        env.close()
    for container_id in used:
        with pytest.raises(NotFound):
            client.containers.get(container_id)
    client.close()
