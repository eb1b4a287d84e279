"""Attacks on the sandbox layer as a process inside a Docker sandbox would make them, performed for real.

Host-side file operations race against a process that swaps workspace entries for symlinks to host paths;
changed files and outside writes come from sources that command output cannot forge; a killed owner's
containers and directories are removed by `prm clean`, and nothing else is.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import docker
import pytest
from typer.testing import CliRunner

from prm.cli import app
from prm.errors import PathEscapeError, UnsafeFileError
from prm.sandboxes import SandboxLimits
from prm.sandboxes.docker import DockerSandbox

pytestmark = pytest.mark.docker

LIMITS = SandboxLimits(memory_mb=256, pids=64)
ATTEMPTS = 300
COPY_ATTEMPTS = 40


@pytest.fixture
def sb(docker_engine):
    with DockerSandbox(limits=LIMITS) as sandbox:
        yield sandbox


@pytest.fixture
def host_secret(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("host-only secret\n")
    os.chmod(secret, 0o600)
    return secret


def _swap_forever(sb, link: str, real: str, target: str) -> None:
    """Start a background loop in the sandbox that swaps `link` between `real` content and a symlink."""
    sb.exec(
        f"(while true; do ln -sfn {target} .l && rm -rf {link} && mv -Tf .l {link}; "
        f"{real} && rm -f {link} && mv -Tf .r {link}; done) > /dev/null 2>&1 &"
    )


def _wait_until_swapping(sb, link: str) -> None:
    deadline = time.monotonic() + 120
    seen = set()
    while len(seen) < 2 and time.monotonic() < deadline:
        seen.add(sb.exec(f"stat -c %F {link}").stdout.strip())
    assert len(seen) == 2, "the swapping loop never ran"


def test_view_never_reads_a_host_file_through_a_swapped_symlink(sb, host_secret):
    _swap_forever(sb, "f", "echo ok > .r", str(host_secret))
    _wait_until_swapping(sb, "f")
    for _ in range(ATTEMPTS):
        with contextlib.suppress(PathEscapeError, FileNotFoundError):
            assert b"secret" not in sb.read_file("f")


def test_edit_never_writes_a_host_file_through_a_swapped_symlink(sb, host_secret):
    _swap_forever(sb, "f", "echo ok > .r", str(host_secret))
    _wait_until_swapping(sb, "f")
    for _ in range(ATTEMPTS):
        with contextlib.suppress(PathEscapeError, FileNotFoundError):
            sb.write_file("f", "pwned\n")
    assert host_secret.read_text() == "host-only secret\n"
    assert host_secret.stat().st_uid == 0


def test_a_swapped_directory_never_leads_outside(sb, host_secret):
    _swap_forever(sb, "d", "mkdir -p .r && echo ok > .r/secret.txt", str(host_secret.parent))
    _wait_until_swapping(sb, "d")
    for _ in range(ATTEMPTS):
        with contextlib.suppress(PathEscapeError, FileNotFoundError, NotADirectoryError):
            assert b"host-only" not in sb.read_file("d/secret.txt")
            sb.write_file("d/secret.txt", "pwned\n")
    assert host_secret.read_text() == "host-only secret\n"


def _files_with_host_content(root) -> list[str]:
    """The regular files under `root` (no symlink followed) that hold the host secret."""
    found = []
    for top, _, names, dir_fd in os.fwalk(root):
        for name in names:
            with contextlib.suppress(OSError):
                fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=dir_fd)
                with os.fdopen(fd, "rb") as f:
                    if b"host-only" in f.read(100):
                        found.append(os.path.join(top, name))
    return found


def test_fork_snapshot_and_restore_never_follow_a_swapped_directory(sb, host_secret):
    _swap_forever(sb, "d", "mkdir -p .r && echo ok > .r/secret.txt", str(host_secret.parent))
    _wait_until_swapping(sb, "d")
    host_dir = sorted(os.listdir(host_secret.parent))
    for _ in range(COPY_ATTEMPTS):
        fork = sb.fork()
        try:
            assert _files_with_host_content(fork._ws.dir) == []
        finally:
            fork.close()
        snapshot = sb.snapshot()
        assert _files_with_host_content(snapshot.path) == []
        sb.restore(snapshot)
        assert _files_with_host_content(sb._ws.dir) == []
    assert sorted(os.listdir(host_secret.parent)) == host_dir
    assert host_secret.read_text() == "host-only secret\n"
    assert sb.exec("echo alive").stdout == "alive\n"


def test_fifos_devices_and_huge_files_are_refused_at_once(sb):
    sb.exec("mkfifo pipe && head -c 17000000 /dev/zero > huge.bin && ln -s /dev/zero zero")
    with pytest.raises(UnsafeFileError, match="not a regular file"):
        sb.read_file("pipe")
    with pytest.raises(UnsafeFileError, match="larger than"):
        sb.read_file("huge.bin")
    with pytest.raises(PathEscapeError):
        sb.read_file("zero")


def test_commands_not_the_helper_are_the_oom_killers_choice(sb):
    own, *helper = sb.exec(
        "cat /proc/self/oom_score_adj; for p in $(pgrep -u 0 python3); do cat /proc/$p/oom_score_adj; done"
    ).stdout.split()
    assert own == "1000" and helper and "1000" not in helper


def test_changed_files_come_from_the_kernel_not_from_output(sb):
    sb.watch_changes()
    sb.exec("echo a.py; echo b > real.txt; mkdir -p new/dir && echo c > new/dir/x.py; echo x > /tmp/out")
    assert sb.drain_changes() == ["new/dir/x.py", "real.txt"]
    assert sb.drain_changes() == []


def test_outside_writes_are_seen_by_the_helper(sb):
    assert sb.exec("echo x > inside.txt").outside_writes == ()
    result = sb.exec("echo x > /tmp/a; mkdir -p /tmp/d; echo y > /tmp/d/b; echo z > /dev/shm/c")
    assert result.outside_writes == ("/dev/shm/c", "/tmp/a", "/tmp/d", "/tmp/d/b")


OWNER = """
import sys
from prm.sandboxes.docker import DockerSandbox
sb = DockerSandbox()
print(sb.container_id, sb._ws.root, flush=True)
sys.stdin.read()
"""


def test_prm_clean_removes_what_a_killed_owner_left_and_nothing_else(sb):
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    container_id, root = owner.stdout.readline().split()
    owner.send_signal(signal.SIGKILL)
    owner.wait()
    client = docker.from_env()
    try:
        assert client.containers.get(container_id)  # left behind
        assert os.path.isdir(root)
        result = CliRunner().invoke(app, ["clean"])
        assert result.exit_code == 0, result.output
        assert container_id[:12] in result.output
        assert client.api.containers(all=True, filters={"id": container_id}) == []
        assert not os.path.exists(root)
        assert client.containers.get(sb.container_id).status == "running"  # a live owner's: kept
        assert sb.exec("echo alive").stdout == "alive\n"
    finally:
        client.close()
