"""Copy-on-write workspaces: btrfs subvolumes, snapshots and quotas, shown to containers through bind mounts.

Where the sandbox directory (`sandbox_parent()`) is on btrfs and this process runs as root, every workspace is
a btrfs subvolume (`HostWorkspace` decides through `copy_on_write`):

- a fork or a snapshot is a subvolume snapshot: a few milliseconds whatever the workspace's size (nothing is
  copied; blocks are shared until one side writes them), and a restore swaps the workspace for a snapshot
  of the snapshot;
- each workspace has a quota (`SandboxLimits.disk_mb`): btrfs simple quotas charge every byte written to
  the subvolume that wrote it, and the workspace's subvolume is the only member of its own level-1 quota
  group, which every subvolume or snapshot that the agent makes inside it joins automatically, so no
  nesting escapes the limit and a full workspace fails the agent's write with `EDQUOT`, never the host's disk.

A container sees its workspace through a bind mount of an empty directory (`mnt`) with slave propagation:
the host mounts the workspace on `mnt` once the container runs, and when it swaps the workspace (a restore,
or a spare container receiving a fork) it unmounts, snapshots and mounts again; the container sees each swap
at once, and a new command starts in the new workspace.

Elsewhere (another file system, or not root) workspaces are plain directories and forks copy files
(`copy_tree`, reflinks where the file system has them), with no limit on a workspace's total size.

`scripts/setup.sh` makes the default pool (`DEFAULT_POOL`): a sparse file formatted btrfs and loop-mounted,
so the sum of all workspaces is bounded too. `$PRM_SANDBOX_DIR` picks another directory; on btrfs the
library enables simple quotas on it and makes its mount shared (both needed above), and refuses a file
system that already keeps full qgroups (whose nested subvolumes would escape the quota).

Example:
    >>> from prm.sandboxes.cow import copy_on_write, sandbox_parent
    >>> parent = sandbox_parent()  # None: the system temporary directory
    >>> copy_on_write(parent) in (True, False)
    True
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import errno
import fcntl
import functools
import os
import shutil
import struct
import uuid
from pathlib import Path

from prm.errors import SandboxError

DEFAULT_POOL = Path("/var/lib/prm-gym/sandboxes")
"""Where `scripts/setup.sh` mounts the copy-on-write pool; used when `$PRM_SANDBOX_DIR` is not set."""
MOUNT_DIR = "mnt"
"""The directory of a sandbox's root that a container binds as its workspace (see the module docstring)."""


def _ioc(direction: int, number: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (0x94 << 8) | number  # btrfs's ioctl magic is 0x94


_W, _R = 1, 2
_SUBVOL_CREATE = _ioc(_W, 14, 4096)
_SNAP_DESTROY = _ioc(_W, 15, 4096)
_INO_LOOKUP = _ioc(_W | _R, 18, 4096)
_SNAP_CREATE_V2 = _ioc(_W, 23, 4096)
_FS_INFO = _ioc(_R, 31, 1024)
_QUOTA_CTL = _ioc(_W | _R, 40, 16)
_QGROUP_ASSIGN = _ioc(_W, 41, 24)
_QGROUP_CREATE = _ioc(_W, 42, 16)
_QGROUP_LIMIT = _ioc(_R, 43, 48)
_QUOTA_ENABLE_SIMPLE = 4
_SUBVOL_RDONLY = 1 << 1
_LIMIT_MAX_RFER = 1 << 0
_SUBVOLUME_INODE = 256
"""The inode number of every subvolume's root directory."""
_MS_BIND, _MS_REC, _MS_SHARED, _MNT_DETACH = 4096, 16384, 1 << 20, 2
_libc = ctypes.CDLL(None, use_errno=True)


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _ioctl(directory: Path | int, request: int, args: bytes) -> bytearray:
    """Run a btrfs ioctl on `directory` (a host path or an open descriptor); its argument buffer back."""
    buffer = bytearray(args)  # mutable: the kernel writes back, and it may exceed fcntl's 1024-byte copy
    if isinstance(directory, int):
        fcntl.ioctl(directory, request, buffer)
        return buffer
    fd = os.open(directory, _DIR_FLAGS)
    try:
        fcntl.ioctl(fd, request, buffer)
    finally:
        os.close(fd)
    return buffer


def _fs_uuid(path: Path) -> uuid.UUID | None:
    """The btrfs file system `path` is on, None when it is not on btrfs."""
    try:
        info = _ioctl(path, _FS_INFO, bytes(1024))
    except OSError:
        return None
    return uuid.UUID(bytes=bytes(info[16:32]))


def sandbox_parent() -> Path | None:
    """Where sandboxes keep their host directories: `$PRM_SANDBOX_DIR`, else `DEFAULT_POOL` when it is
    mounted, else None (the system temporary directory)."""
    if chosen := os.environ.get("PRM_SANDBOX_DIR"):
        return Path(chosen)
    return DEFAULT_POOL if os.path.ismount(DEFAULT_POOL) else None


def copy_on_write(parent: Path | None) -> bool:
    """Whether workspaces under `parent` are btrfs subvolumes (see the module docstring)."""
    if parent is None or os.geteuid() != 0 or not os.path.isdir(parent):
        return False
    return _prepared(os.path.realpath(parent))


@functools.cache
def _prepared(parent: str) -> bool:
    fs = _fs_uuid(Path(parent))
    if fs is None:
        return False
    mode_file = Path("/sys/fs/btrfs", str(fs), "qgroups", "mode")
    if not mode_file.exists():  # quotas off: turn on simple quotas (they account only what is written next)
        try:
            _ioctl(Path(parent), _QUOTA_CTL, struct.pack("QQ", _QUOTA_ENABLE_SIMPLE, 0))
        except OSError as err:
            raise SandboxError(
                f"cannot enable simple quotas on the btrfs at {parent}: {err.strerror}"
            ) from err
    mode = mode_file.read_text().strip() if mode_file.exists() else "unknown"
    if mode != "squota":
        raise SandboxError(
            f"{parent} is on a btrfs file system with {mode!r} quotas; copy-on-write sandboxes need simple "
            "quotas (which limit subvolumes an agent nests in its workspace): give them a file system of their "
            "own (see scripts/setup.sh) or point $PRM_SANDBOX_DIR elsewhere"
        )
    mount_point = Path(parent)
    while not os.path.ismount(mount_point):
        mount_point = mount_point.parent
    _mount(None, mount_point, _MS_SHARED | _MS_REC)  # containers' bind mounts of it receive our later mounts
    return True


def _mount(source: Path | None, target: Path, flags: int) -> None:
    src = None if source is None else os.fsencode(source)
    if _libc.mount(src, os.fsencode(target), None, ctypes.c_ulong(flags), None) != 0:
        err = ctypes.get_errno()
        raise SandboxError(f"mounting {source} on {target} failed: {os.strerror(err)}")


def bind(source: Path, target: Path) -> None:
    """Mount the directory `source` on `target` (a container binding `target` sees it at once)."""
    _mount(source, target, _MS_BIND)


def unbind(target: Path) -> None:
    """Detach whatever is mounted on `target` (processes still inside keep it until they leave)."""
    if os.path.ismount(target) and _libc.umount2(os.fsencode(target), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOENT):  # unmounted meanwhile
            raise SandboxError(f"unmounting {target} failed: {os.strerror(err)}")


def _named(name: str, fd: int = 0) -> bytes:
    """The `btrfs_ioctl_vol_args` naming the entry `name` (and an fd)."""
    return struct.pack("q4088s", fd, os.fsencode(name))


def is_subvolume(path: Path, pool: Path) -> bool:
    """Whether `path` is a subvolume on the same btrfs file system as the directory `pool` (so it can be
    snapshotted there)."""
    try:
        is_root = os.lstat(path).st_ino == _SUBVOLUME_INODE
    except OSError:
        return False
    if not is_root:
        return False
    source = _fs_uuid(path)
    return source is not None and source == _fs_uuid(pool)


def create(path: Path, limit_bytes: int) -> None:
    """Make the empty subvolume `path` with a quota of `limit_bytes`."""
    try:
        _ioctl(path.parent, _SUBVOL_CREATE, _named(path.name))
    except OSError as err:
        raise SandboxError(f"creating the btrfs subvolume {path} failed: {err.strerror}") from err
    _own_quota(path, limit_bytes)


def snapshot(source: Path, path: Path, *, limit_bytes: int | None = None, readonly: bool = False) -> None:
    """Make `path` a snapshot of the subvolume `source` (instant); writable ones get a quota of `limit_bytes`."""
    fd = os.open(source, _DIR_FLAGS)
    try:
        flags = _SUBVOL_RDONLY if readonly else 0
        _ioctl(path.parent, _SNAP_CREATE_V2, struct.pack("qQQ32x4040s", fd, 0, flags, os.fsencode(path.name)))
    except OSError as err:
        raise SandboxError(f"snapshotting {source} to {path} failed: {err.strerror}") from err
    finally:
        os.close(fd)
    if limit_bytes is not None:
        _own_quota(path, limit_bytes)


def _subvolume_id(directory: Path | int) -> int:
    return struct.unpack_from(
        "Q", _ioctl(directory, _INO_LOOKUP, struct.pack("QQ4080x", 0, _SUBVOLUME_INODE))
    )[0]


def _own_quota(path: Path, limit_bytes: int) -> None:
    """Give the subvolume `path` a level-1 quota group of its own (numbered after it), limited to
    `limit_bytes`; subvolumes later made inside `path` join it (simple quotas' inheritance)."""
    _collect_quota_groups(path)
    subvolume_id = _subvolume_id(path)
    group = (1 << 48) | subvolume_id
    try:
        _create_quota_group(path, group)
        _ioctl(path, _QGROUP_ASSIGN, struct.pack("QQQ", 1, subvolume_id, group))
        _ioctl(path, _QGROUP_LIMIT, struct.pack("QQQQQQ", group, _LIMIT_MAX_RFER, limit_bytes, 0, 0, 0))
    except OSError as err:
        raise SandboxError(f"setting the quota of {path} failed: {err.strerror}") from err


def _create_quota_group(directory: Path, group: int) -> None:
    """Create the quota group `group`. One of that number may be left from a deleted workspace whose
    subvolume number btrfs has since given out again (it does after a remount): it is removed and made anew
    (or, if it cannot be removed, taken over as it is)."""
    try:
        _ioctl(directory, _QGROUP_CREATE, struct.pack("QQ", 1, group))
    except FileExistsError:
        with contextlib.suppress(OSError):
            _ioctl(directory, _QGROUP_CREATE, struct.pack("QQ", 0, group))
            _ioctl(directory, _QGROUP_CREATE, struct.pack("QQ", 1, group))


_ORPHANED_GROUPS: collections.deque[int] = collections.deque()
"""Level-1 quota groups of deleted workspaces: removable once btrfs has dropped their subvolumes (seconds)."""
COLLECT_PER_CALL = 8


def _collect_quota_groups(directory: Path) -> None:
    """Remove up to `COLLECT_PER_CALL` orphaned quota groups whose subvolumes are gone; the rest wait."""
    for _ in range(min(COLLECT_PER_CALL, len(_ORPHANED_GROUPS))):
        try:
            group = _ORPHANED_GROUPS.popleft()
        except IndexError:  # taken by another thread
            return
        try:
            _ioctl(directory, _QGROUP_CREATE, struct.pack("QQ", 0, group))
        except OSError as err:
            if err.errno == errno.EBUSY:  # its subvolumes are not dropped yet
                _ORPHANED_GROUPS.append(group)


def delete(path: Path) -> None:
    """Delete the subvolume `path` (in a host directory) with every subvolume an agent nested in it, walking
    by descriptors (the agent's processes may still change it); what is not a subvolume goes as files."""
    with contextlib.suppress(OSError):  # its quota group goes once btrfs has dropped it
        _ORPHANED_GROUPS.append((1 << 48) | _subvolume_id(path))
    parent = os.open(path.parent, _DIR_FLAGS)
    try:
        _destroy(parent, path.name)
    finally:
        os.close(parent)


def _destroy(parent: int, name: str) -> None:
    try:
        _ioctl(parent, _SNAP_DESTROY, _named(name))
        return
    except OSError as err:
        if err.errno != errno.ENOTEMPTY:  # not a subvolume, or gone
            shutil.rmtree(name, dir_fd=parent, ignore_errors=True)
            return
    for _top, dirs, _files, top in os.fwalk(name, dir_fd=parent, topdown=False, follow_symlinks=False):
        for entry in dirs:
            with contextlib.suppress(OSError):
                if os.stat(entry, dir_fd=top, follow_symlinks=False).st_ino == _SUBVOLUME_INODE:
                    _ioctl(top, _SNAP_DESTROY, _named(entry))
    try:
        _ioctl(parent, _SNAP_DESTROY, _named(name))
    except OSError:  # more was nested meanwhile: remove it as files (root may remove an empty subvolume)
        shutil.rmtree(name, dir_fd=parent, ignore_errors=True)


def remove_root(root: Path) -> None:
    """Remove a sandbox's host directory: unmount its workspace, delete its subvolumes (the workspace, and
    those one level down: snapshots, workspaces moved aside), remove the rest."""
    unbind(root / MOUNT_DIR)
    for entry in _subfolders(root):
        if entry.stat(follow_symlinks=False).st_ino == _SUBVOLUME_INODE:
            delete(Path(entry.path))
        elif entry.name != MOUNT_DIR:
            for inner in _subfolders(Path(entry.path)):
                if inner.stat(follow_symlinks=False).st_ino == _SUBVOLUME_INODE:
                    delete(Path(inner.path))
    shutil.rmtree(root, ignore_errors=True)


def _subfolders(folder: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(folder) as entries:
            return [entry for entry in entries if entry.is_dir(follow_symlinks=False)]
    except OSError:
        return []
