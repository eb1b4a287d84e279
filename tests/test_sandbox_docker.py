"""DockerSandbox against the real engine: isolation, limits, timeouts, caps, snapshots, forks, failures."""

from __future__ import annotations

import os
import stat

import docker
import pytest

from prm.errors import PathEscapeError, SandboxError
from prm.sandboxes import Sandbox, SandboxLimits
from prm.sandboxes.docker import SOCKETS, DockerSandbox, close_spares
from prm.sandboxes.runner import truncation_marker
from tests.conditions import wait_until

pytestmark = pytest.mark.docker

FILL_PIDS = """import os, signal
while True:
    try:
        if os.fork() == 0:
            signal.pause()
    except OSError:
        break
signal.pause()"""
LIMITS = SandboxLimits(memory_mb=256, pids=64, output_cap_bytes=100_000, file_size_mb=8)


@pytest.fixture(scope="module")
def sb(docker_engine):
    with DockerSandbox(limits=LIMITS) as sandbox:
        yield sandbox
    close_spares()


def test_exec_runs_as_non_root_in_the_workspace(sb):
    assert isinstance(sb, Sandbox)
    result = sb.exec("id -u; pwd; echo err >&2; exit 3")
    assert result.exit_code == 3
    assert result.stdout == "1000\n/workspace\n"
    assert result.stderr == "err\n"


def test_timeout_kills_the_process_tree_and_sandbox_stays_usable(sb):
    result = sb.exec("sleep 1000 & sleep 1000", timeout=2)
    assert result.timed_out and not result.ok
    # exec returns only once the killed group is gone, so this holds at once, however loaded the machine
    assert sb.exec("pgrep -x sleep").exit_code == 1  # no sleep left anywhere in the container
    assert sb.exec("echo alive").stdout == "alive\n"


def test_fork_bomb_is_contained(sb):
    sb.exec("bomb() { bomb | bomb & }; bomb", timeout=5)  # holds the output pipes: killed with its group
    assert sb.exec("echo alive").stdout == "alive\n"
    assert int(sb.exec("ps -e --no-headers | wc -l").stdout) < 10
    # Processes in their own session survive their command and fill the pids limit for good; the next command
    # that cannot start makes the helper kill every other process, so the sandbox recovers.
    sb.exec(f"setsid python3 -c '{FILL_PIDS}' > /dev/null 2>&1 &")

    def limit_reached() -> bool:
        result = sb.exec("echo alive")
        assert result.stdout == "alive\n"
        return "process limit was reached" in result.stderr

    assert wait_until(limit_reached, timeout_s=300), "the pids limit was never reached"
    assert int(sb.exec("ps -e --no-headers | wc -l").stdout) < 10


def test_memory_hog_is_contained(sb):
    hog = sb.exec("python3 -c 'x = bytearray(1024**3); x[::4096] = b\"1\" * len(x[::4096])'", timeout=60)
    assert hog.exit_code != 0
    assert sb.exec("echo alive").stdout == "alive\n"


def test_output_is_capped_and_marked(sb):
    result = sb.exec("head -c 10000000 /dev/zero | tr '\\0' a; echo done >&2")
    assert result.output_truncated and result.exit_code == 0
    assert result.stdout == "a" * 100_000 + truncation_marker(9_900_000, 10_000_000)
    assert result.stderr == "done\n"


def test_no_network_interface_but_loopback(sb):
    lines = sb.exec("cat /proc/net/dev").stdout.strip().splitlines()[2:]
    assert [line.split(":")[0].strip() for line in lines] == ["lo"]


@pytest.mark.parametrize("target", ["/etc/x", "/x", "/usr/lib/python3/x", "/home/agent/x", "/var/tmp/x"])
def test_writes_outside_the_workspace_fail(sb, target):
    result = sb.exec(f"echo pwned > {target}")
    assert result.exit_code != 0
    assert "Read-only file system" in result.stderr or "Permission denied" in result.stderr


def test_workspace_and_tmp_are_writable_and_file_size_is_limited(sb):
    assert sb.exec("echo a > /workspace/w.txt && echo b > /tmp/t.txt").ok
    assert sb.read_file("w.txt") == b"a\n"
    assert sb.exec("head -c 20000000 /dev/zero > big.bin").exit_code != 0
    sb.exec("rm -f big.bin")


def test_host_writes_are_visible_and_writable_inside(sb):
    sb.write_file("deep/dir/f.txt", "from host")
    assert sb.exec("cat deep/dir/f.txt && echo more >> deep/dir/f.txt && touch deep/dir/g").ok
    assert sb.read_file("/workspace/deep/dir/f.txt") == b"from hostmore\n"
    assert sb.list_dir("deep/dir") == ["f.txt", "g"]


def test_paths_escaping_the_workspace_are_refused(sb):
    sb.exec("ln -sfn /etc etc-link")
    for path in ["../etc/passwd", "/etc/passwd", "etc-link/passwd"]:
        with pytest.raises(PathEscapeError):
            sb.read_file(path)
    with pytest.raises(PathEscapeError):
        sb.write_file("../../x", "x")
    with pytest.raises(TypeError, match="command must be a string"):
        sb.exec(b"true")


def test_snapshot_restore_is_exact(sb):
    sb.exec(
        "mkdir -p snap/a && echo 1 > snap/a/f && chmod 600 snap/a/f && ln -sfn a/f snap/l && touch snap/e"
    )
    manifest = "cd snap && find . -printf '%p %m %s %l %U\\n' | sort && cat a/f"
    before = sb.exec(manifest).stdout
    snap = sb.snapshot()
    sb.exec("rm -r snap/a snap/l && echo 2 > snap/new && chmod 777 snap/e")
    assert sb.exec(manifest).stdout != before
    sb.restore(snap)
    assert sb.exec(manifest).stdout == before
    assert sb.exec("echo 3 > snap/a/f").ok  # restored files still belong to the sandbox user


@pytest.mark.parametrize("how", ["new container", "prestarted spare"])
def test_forks_diverge(sb, how):
    sb.write_file("shared.txt", "base")
    if how == "prestarted spare":
        sb.prestart_fork(wait=True)
    child = sb.fork(use_spare=how == "prestarted spare")
    try:
        assert child.container_id != sb.container_id
        assert child.limits == sb.limits and child.image == sb.image
        assert child.exec("cat shared.txt && id -u").stdout == "base1000\n"
        child.exec("echo child > shared.txt && touch only-child")
        sb.exec("echo parent > shared.txt")
        assert child.read_file("shared.txt") == b"child\n"
        assert sb.read_file("shared.txt") == b"parent\n"
        assert "only-child" not in sb.list_dir()
        grandchild = child.fork()
        assert grandchild.exec("cat shared.txt").stdout == "child\n"
        grandchild.close()
    finally:
        child.close()


def ours() -> set[str]:
    """Containers this process owns (by the owner labels)."""
    client = docker.from_env()
    try:
        found = client.containers.list(all=True, filters={"label": f"prm.owner.pid={os.getpid()}"})
        return {c.id for c in found}
    finally:
        client.close()


def test_back_to_back_forks_each_take_a_prestarted_spare_and_the_spares_go_with_their_sandbox(docker_engine):
    before = ours()
    parent = DockerSandbox(limits=LIMITS.model_copy(update={"pids": 65}))  # a configuration of its own
    parent.prestart_fork(wait=True, spares=3)
    spares = ours() - before - {parent.container_id}
    assert len(spares) == 3
    children = [parent.fork() for _ in range(3)]  # none waits for a container to start
    assert {child.container_id for child in children} == spares
    for child in children:
        child.close()
    parent.close()
    assert wait_until(lambda: ours() - before == set())  # the replacement spares went with the parent


@pytest.mark.parametrize("how", ["new container", "prestarted spare"])
def test_a_sockets_dir_is_private_and_read_only_and_each_fork_gets_its_own(sb, how):
    assert sb.sockets_dir is None and not sb.exec(f"test -e {SOCKETS}").ok  # only where asked for
    with DockerSandbox(limits=LIMITS, sockets=True) as parent:
        assert stat.S_IMODE(parent.sockets_dir.stat().st_mode) == 0o711
        refused = parent.exec(f"test -d {SOCKETS} && (ls {SOCKETS} || touch {SOCKETS}/x || echo refused)")
        assert refused.stdout == "refused\n"
        if how == "prestarted spare":
            parent.prestart_fork(wait=True)
        with parent.fork(use_spare=how == "prestarted spare") as child:
            assert child.sockets_dir not in (None, parent.sockets_dir) and child.exec(f"test -d {SOCKETS}").ok


def test_missing_image_is_a_clear_error(docker_engine):
    with pytest.raises(SandboxError, match="'prm-env:does-not-exist' does not exist"):
        DockerSandbox(image="prm-env:does-not-exist")


def test_dead_container_raises_sandbox_error_not_a_hang(docker_engine, tmp_path):
    (tmp_path / "seed.txt").write_text("seed")
    sandbox = DockerSandbox(workspace_from=tmp_path, limits=LIMITS)
    try:
        assert sandbox.exec("cat seed.txt").stdout == "seed"
        client = docker.from_env()
        client.containers.get(sandbox.container_id).kill()
        client.close()
        with pytest.raises(SandboxError, match="stopped answering"):
            sandbox.exec("true", timeout=5)
        with pytest.raises(SandboxError, match="broken"):
            sandbox.exec("true")
    finally:
        sandbox.close()
    with pytest.raises(SandboxError, match="closed"):
        sandbox.exec("true")
    # a filtered listing (no per-container inspect, which races with other containers going away)
    assert docker.from_env().api.containers(all=True, filters={"id": sandbox.container_id}) == []
