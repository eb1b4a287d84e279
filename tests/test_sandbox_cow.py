"""Copy-on-write workspaces (`prm.sandboxes.cow`) on the pool `scripts/setup.sh` mounts: forks share blocks,
restores swap the workspace under a running container, a quota stops an agent's writes (subvolumes it nests
included), and closing leaves no mount, subvolume or directory behind."""

from __future__ import annotations

import glob
import subprocess
from pathlib import Path

import pytest

from prm.sandboxes.base import SandboxLimits
from prm.sandboxes.cow import MOUNT_DIR
from prm.sandboxes.docker import DockerSandbox
from prm.sandboxes.local import LocalSandbox
from tests.conditions import wait_until
from tests.sandbox_dirs import require_pool

pytestmark = pytest.mark.docker

NEST = (  # the agent's own subvolume inside its workspace: BTRFS_IOC_SUBVOL_CREATE, no capability needed
    "import fcntl, os, struct; fd = os.open('.', os.O_RDONLY); "
    "fcntl.ioctl(fd, 0x5000940E, bytearray(struct.pack('q4088s', 0, b'nested')))"
)


@pytest.fixture(scope="module")
def pool() -> Path:
    return require_pool()


def mounted(path: Path) -> bool:
    return any(line.split()[4] == str(path) for line in Path("/proc/self/mountinfo").read_text().splitlines())


def rootid(path: str) -> str:
    """The number of the subvolume holding `path` (its quota group is 1/<number>)."""
    found = subprocess.run(
        ["btrfs", "inspect-internal", "rootid", path], capture_output=True, text=True, check=True
    )
    return found.stdout.strip()


def megabytes(sb: DockerSandbox, path: str) -> int:
    return int(sb.exec(f"du -sm {path} | cut -f1").stdout or 0)


def test_writes_stop_at_the_quota_also_in_a_subvolume_the_agent_nests(pool):
    with DockerSandbox(limits=SandboxLimits(disk_mb=64)) as sb:
        plain = sb.exec("head -c 200M /dev/zero > fill")
        assert "Disk quota exceeded" in plain.stderr
        nested = sb.exec(f'python3 -c "{NEST}" && head -c 200M /dev/zero > nested/fill')
        assert "Disk quota exceeded" in nested.stderr, nested
        assert megabytes(sb, "fill") + megabytes(sb, "nested") <= 64 + 8
        sb.exec("rm -rf fill nested/fill")
        assert sb.exec("head -c 32M /dev/zero > again").exit_code == 0  # freed space is usable again
        assert sb.exec("echo alive").stdout == "alive\n"


def test_a_fork_shares_the_parents_blocks_and_diverges_on_write(pool):
    with DockerSandbox(limits=SandboxLimits(disk_mb=512)) as sb:
        sb.exec("head -c 64M /dev/urandom > blob && echo parent > note")
        with sb.fork() as child:
            assert child.exec("md5sum blob").stdout == sb.exec("md5sum blob").stdout
            extents = subprocess.run(
                ["filefrag", "-v", str(child._ws.dir / "blob")], capture_output=True, text=True, check=True
            ).stdout
            assert "shared" in extents  # a snapshot: no byte was copied
            child.exec("echo child > note")
            assert sb.read_file("note") == b"parent\n" and child.read_file("note") == b"child\n"


def test_restore_swaps_the_workspace_under_a_running_process(pool):
    with DockerSandbox() as sb:
        sb.write_file("keep.txt", "v1")
        snap = sb.snapshot()
        sb.exec(
            "(while :; do date >> log.txt; sleep 0.05; done) > /dev/null 2>&1 &"
        )  # writes on, in the old one
        assert wait_until(lambda: "log.txt" in sb.list_dir())
        sb.write_file("keep.txt", "v2")
        sb.restore(snap)
        assert sb.read_file("keep.txt") == b"v1" and "log.txt" not in sb.list_dir()
        assert sb.exec("cat keep.txt; ls").stdout == "v1keep.txt\n"  # new commands run in the restored one
        trash = lambda: [p for p in sb._ws.root.iterdir() if p.name.startswith("trash-")]  # noqa: E731
        assert wait_until(lambda: trash() == []), trash()  # the old workspace is deleted, its writer or not
        sb.exec("kill -9 -1")


def test_closing_leaves_no_mount_subvolume_or_directory(pool):
    sb = DockerSandbox()
    sb.exec(f'python3 -c "{NEST}" && echo x > nested/x')
    snap = sb.snapshot()
    with sb.fork() as child:
        child.restore(snap)
        roots = [sb._ws.root, child._ws.root]
        assert all(mounted(root / MOUNT_DIR) for root in roots)
    sb.close()
    assert not any(mounted(root / MOUNT_DIR) for root in roots)
    assert not any(root.exists() for root in roots)


def test_the_quota_group_of_a_closed_workspace_is_removed(pool):
    sb = LocalSandbox()
    number = rootid(sb.workspace)
    group = lambda: glob.glob(f"/sys/fs/btrfs/*/qgroups/1_{number}")  # noqa: E731
    assert group()
    sb.close()
    # removed by a later workspace's creation, once btrfs has dropped the deleted subvolume (seconds)
    assert wait_until(lambda: LocalSandbox().close() or not group())


def test_a_quota_group_left_with_a_reused_subvolume_number_is_made_anew(pool):
    """btrfs gives the numbers of deleted subvolumes out again after a remount, while their quota groups may
    still exist: a new workspace with such a number gets its own group and limit all the same."""
    with LocalSandbox() as before:
        last = int(rootid(before.workspace))
    stale = [f"1/{n}" for n in range(last + 1, last + 40)]  # the numbers the next subvolumes will get
    for group in stale:  # some may be left already (stale groups whose numbers came round again)
        subprocess.run(["btrfs", "qgroup", "create", group, str(pool)], capture_output=True)
    assert all(glob.glob(f"/sys/fs/btrfs/*/qgroups/{group.replace('/', '_')}") for group in stale)
    try:
        with LocalSandbox(limits=SandboxLimits(disk_mb=48)) as sb:
            group = rootid(sb.workspace)
            assert f"1/{group}" in stale
            limit = glob.glob(f"/sys/fs/btrfs/*/qgroups/1_{group}/max_referenced")
            assert [Path(found).read_text().strip() for found in limit] == [str(48 << 20)]
    finally:
        for group in stale:
            subprocess.run(
                ["btrfs", "qgroup", "destroy", group, str(pool)], capture_output=True
            )  # unless in use
