"""A sandbox workspace kept in a host directory: file operations, snapshots and copies on the host side.

Both back ends keep the workspace on the host (`LocalSandbox` runs commands in it; `DockerSandbox`
bind-mounts it into the container), so reading and writing files, snapshots, restores and forks are
host-side file operations: btrfs snapshots in a copy-on-write sandbox directory (`prm.sandboxes.cow`), else
`copy_tree`, which keeps modes, times, symlinks and owners like `cp -a` but never follows a symlink, whatever
the agent swaps while it runs.

The workspace is the agent's: a command may swap any file or directory for a symlink at any moment, also
between a check and a use. So `read`, `write` and `list` never follow a path as a string: they walk it one
component at a time from an open directory descriptor, opening each with `O_NOFOLLOW`. A symlink met on the
way is resolved by hand inside the workspace (its target is read and walked the same way, `..` never climbs
above the workspace, an absolute target must lie under `visible_root`), so no host file outside the
workspace is ever opened, whatever happens concurrently; a path that would leave raises `PathEscapeError`.
Only regular files are read or written (a FIFO, socket or device raises `UnsafeFileError` instead of
blocking), opens never block, and a read takes at most `MAX_READ_BYTES`.

Paths given by users are relative to the workspace or absolute under `visible_root` (the workspace's path
as commands see it).

Example:
    >>> import tempfile
    >>> ws = HostWorkspace.create(tempfile.mkdtemp(), visible_root="/workspace")
    >>> ws.write("a/b.txt", "hi"); ws.read("/workspace/a/b.txt")
    b'hi'
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from prm.errors import PathEscapeError, SandboxError, UnsafeFileError
from prm.sandboxes import cow
from prm.sandboxes.base import SandboxLimits
from prm.sandboxes.changes import ChangeWatcher
from prm.sandboxes.labels import write_owner_file

MAX_READ_BYTES = 16 * 1024 * 1024
"""The largest file `read` returns; a larger one raises `UnsafeFileError` (nothing beyond it is read)."""
MAX_SYMLINKS = 40
"""Symlinks followed while resolving one path (the kernel's own limit), after which it is an error."""
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


MAX_COPY_DEPTH = 256
"""Directories nested deeper than this are not copied (each level holds two open descriptors)."""
_FICLONE = 0x40049409
"""The ioctl that makes a reflink copy of a whole file (XFS, btrfs); elsewhere the bytes are copied."""


def copy_tree(src: Path, dst: Path) -> None:
    """Copy the contents of `src` into the existing directory `dst`, keeping modes, owners, times and symlinks
    (as symlinks) of every entry and of `src` itself, like `cp -a src/. dst`, without ever following a symlink
    on either side.

    Either tree may be the agent's, changing while it is copied: every entry is opened relative to its
    parent's descriptor with `O_NOFOLLOW`, so a directory swapped for a symlink to a host path mid-copy is
    never entered (it is skipped) and nothing is written through a link planted in `dst` (new files are
    made with `O_EXCL`). Entries that vanish or change kind mid-copy, FIFOs, sockets, devices and directories
    nested deeper than `MAX_COPY_DEPTH` are skipped; a failure of the host (e.g. a full disk) raises
    `SandboxError`.

    >>> import tempfile
    >>> src, dst = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    >>> (src / "d").mkdir(); (src / "d" / "f.txt").write_text("hi"); (src / "l").symlink_to("/etc")
    2
    >>> copy_tree(src, dst); (dst / "d" / "f.txt").read_text(), os.readlink(dst / "l")
    ('hi', '/etc')
    """
    src_fd = os.open(src, _DIR_FLAGS)
    try:
        dst_fd = os.open(dst, _DIR_FLAGS)
        try:
            _copy_dir(src_fd, dst_fd, 0)
            _copy_meta(os.fstat(src_fd), dst_fd)  # the root's too, as `cp -a src/. dst` does
        finally:
            os.close(dst_fd)
    except OSError as err:
        raise SandboxError(f"copying {src} to {dst} failed: {err}") from err
    finally:
        os.close(src_fd)


_VANISHED = (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.EEXIST, errno.ENXIO, errno.EISDIR)
"""What opening an entry that a concurrent process moved, removed or swapped for a link raises."""


def _copy_dir(src_fd: int, dst_fd: int, depth: int) -> None:
    for entry in os.scandir(src_fd):
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode) and depth < MAX_COPY_DEPTH:
                _copy_subdir(entry.name, src_fd, dst_fd, depth)
            elif stat.S_ISREG(st.st_mode):
                _copy_file(entry.name, src_fd, dst_fd)
            elif stat.S_ISLNK(st.st_mode):
                os.symlink(os.readlink(entry.name, dir_fd=src_fd), entry.name, dir_fd=dst_fd)
                _copy_meta(st, entry.name, dst_fd)
        except OSError as err:
            if err.errno not in _VANISHED:
                raise


def _copy_subdir(name: str, src_fd: int, dst_fd: int, depth: int) -> None:
    child = os.open(name, _DIR_FLAGS, dir_fd=src_fd)
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(name, 0o700, dir_fd=dst_fd)
        target = os.open(name, _DIR_FLAGS, dir_fd=dst_fd)
        try:
            _copy_dir(child, target, depth + 1)
            _copy_meta(os.fstat(child), target)
        finally:
            os.close(target)
    finally:
        os.close(child)


def _copy_file(name: str, src_fd: int, dst_fd: int) -> None:
    source = os.open(name, os.O_RDONLY | _FILE_FLAGS, dir_fd=src_fd)
    try:
        st = os.fstat(source)
        if not stat.S_ISREG(st.st_mode):  # swapped for a FIFO or device after the listing
            return
        target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _FILE_FLAGS, 0o600, dir_fd=dst_fd)
        try:
            try:
                fcntl.ioctl(target, _FICLONE, source)
            except OSError:
                offset = 0
                while sent := os.sendfile(target, source, offset, 1 << 30):
                    offset += sent
            _copy_meta(st, target)
        finally:
            os.close(target)
    finally:
        os.close(source)


def _copy_meta(st: os.stat_result, target: int | str, dir_fd: int | None = None) -> None:
    """Owner, mode and times of `st` onto `target`: an open descriptor, or a symlink's name in `dir_fd`."""
    at = {} if dir_fd is None else {"dir_fd": dir_fd, "follow_symlinks": False}
    with contextlib.suppress(PermissionError):  # an unprivileged host user keeps its own ownership
        os.chown(target, st.st_uid, st.st_gid, **at)
    if dir_fd is None:  # a symlink (given by name) has no mode of its own
        os.chmod(target, stat.S_IMODE(st.st_mode))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), **at)


@dataclass(frozen=True)
class WorkspaceDiff:
    """The regular files that differ from a baseline (path -> new bytes) and the baseline files gone."""

    changed: dict[str, bytes]
    removed: list[str]


_ABSENT, _UNCHANGED = object(), object()


def _read_regular(name: str, dir_fd: int, baseline: Path) -> bytes | object:
    """The bytes of regular file `name` in `dir_fd` (no symlink followed), `_UNCHANGED` when it has the
    baseline's bytes (or size and mtime), `_ABSENT` when it is not a readable regular file."""
    try:
        fd = os.open(name, os.O_RDONLY | _FILE_FLAGS, dir_fd=dir_fd)
    except OSError:
        return _ABSENT
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_READ_BYTES:
            return _ABSENT
        try:
            base = os.lstat(baseline)
        except OSError:
            base = None
        if base is not None and (base.st_size, base.st_mtime_ns) == (st.st_size, st.st_mtime_ns):
            return _UNCHANGED
        data = f.read(MAX_READ_BYTES + 1)
    if len(data) > MAX_READ_BYTES:
        return _ABSENT
    same = base is not None and stat.S_ISREG(base.st_mode) and base.st_size == len(data)
    return _UNCHANGED if same and baseline.read_bytes() == data else data


@dataclass(frozen=True)
class WorkspaceSnapshot:
    """A frozen copy of a workspace. Restorable into the sandbox that took it or any of its forks."""

    path: Path


class HostWorkspace:
    """The host directory `dir` holding a workspace seen by commands as `visible_root`.

    Under a copy-on-write sandbox directory (`prm.sandboxes.cow`) `dir` is a btrfs subvolume limited to
    `quota_mb`: clones and snapshots are subvolume snapshots, a restore swaps `dir` for a snapshot of the
    snapshot. With `mounted`, a container binds `bind_source` (an empty directory) rather than `dir`, and
    `attach()` mounts `dir` on it once the container runs, so that swaps reach the container. Elsewhere
    copies go file by file and `bind_source` is `dir`.
    """

    def __init__(
        self, root: Path, visible_root: str, owner: tuple[int, int] | None, quota_mb: int, mounted: bool
    ):
        self.root = root
        self.dir = root / "workspace"
        self.visible_root = visible_root
        self.owner = owner
        self.quota_mb = quota_mb
        self.copy_on_write = cow.copy_on_write(root.parent)
        self.bind_source = root / cow.MOUNT_DIR if self.copy_on_write and mounted else self.dir
        self._attached = False
        self._snapshots = 0
        self._watcher: ChangeWatcher | None = None

    @classmethod
    def create(
        cls,
        root: str | Path,
        visible_root: str | None = None,
        seed: str | Path | None = None,
        owner: tuple[int, int] | None = None,
        *,
        quota_mb: int = SandboxLimits().disk_mb,
        mounted: bool = False,
    ) -> HostWorkspace:
        """Make `root/workspace`, seeded with a copy of `seed`; chown everything to `owner` when given."""
        root = Path(root)
        ws = cls(root, visible_root or str(root / "workspace"), owner, quota_mb, mounted)
        if seed is not None and not Path(seed).is_dir():
            raise FileNotFoundError(f"workspace_from={str(seed)!r} is not a directory")
        ws._make(seed)
        if owner is not None:
            for path in [ws.dir, *ws.dir.rglob("*")]:
                os.lchown(path, *owner)
        return ws

    @property
    def mounted_later(self) -> bool:
        """Whether a container binds the empty `bind_source`, on which `attach()` mounts `dir`."""
        return self.bind_source != self.dir

    def _make(self, source: str | Path | None) -> None:
        """Make `dir` (absent) holding a copy of the directory `source`, if any: a snapshot when it is a
        subvolume of the same pool, else a copy."""
        if self.mounted_later:
            self.bind_source.mkdir(exist_ok=True)  # the empty directory a container binds
        if self.copy_on_write and source is not None and cow.is_subvolume(Path(source), self.root):
            cow.snapshot(Path(source), self.dir, limit_bytes=self.quota_mb << 20)
            return
        if self.copy_on_write:
            cow.create(self.dir, self.quota_mb << 20)
        else:
            self.dir.mkdir(parents=True)
        if source is not None:
            copy_tree(Path(source), self.dir)

    def attach(self) -> None:
        """Mount the workspace on `bind_source` (once the container binding it runs); nothing to do when it
        binds `dir` itself."""
        if self.mounted_later:
            cow.bind(self.dir, self.bind_source)
            self._attached = True

    def clone(self, root: str | Path, visible_root: str | None = None, *, fill: bool = True) -> HostWorkspace:
        """A new workspace under `root` with this one's owner, quota and mounting, holding a copy of this
        one's files (a snapshot, under a copy-on-write sandbox directory).

        With `fill=False` it starts empty; call `copy_into(clone)` later (e.g. while a container starts).
        """
        root = Path(root)
        ws = HostWorkspace(
            root, visible_root or str(root / "workspace"), self.owner, self.quota_mb, self.mounted_later
        )
        ws._make(self.dir if fill else None)
        if self.owner is not None:
            os.lchown(ws.dir, *self.owner)
        return ws

    def copy_into(self, other: HostWorkspace) -> None:
        """Replace `other`'s files with a copy of this workspace's (keeping owners and modes); under a
        copy-on-write sandbox directory `other`'s workspace is swapped for a snapshot of this one."""
        if other.copy_on_write:
            other._swap_in(self.dir)
        else:
            copy_tree(self.dir, other.dir)

    def _swap_in(self, source: Path) -> None:
        """Replace `dir` by a copy of `source` (copy-on-write only): unmount, move the old subvolume aside,
        snapshot, mount again; the old one is deleted in the background."""
        if self._attached:
            cow.unbind(self.bind_source)
        trash = Path(tempfile.mkdtemp(prefix="trash-", dir=self.root))
        os.rename(self.dir, trash / "workspace")  # a subvolume moves within the pool's top level
        self._make(source)
        if self._attached:
            self.attach()
        if self._watcher is not None:  # the host replaced the files: not the agent's change
            self.watch_changes()
        threading.Thread(target=cow.remove_root, args=(trash,), daemon=True).start()

    def _parts(self, path: str) -> list[str]:
        """The components of a user-given path, relative to the workspace root."""
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a string, got {type(path).__name__}")
        text = os.fspath(path)
        if "\0" in text:
            raise PathEscapeError(f"path {text[:100]!r} contains a NUL byte")
        given = PurePosixPath(text)
        if given.is_absolute():
            try:
                given = given.relative_to(self.visible_root)
            except ValueError:
                raise PathEscapeError(f"path {text!r} is outside the workspace {self.visible_root}") from None
        return [part for part in given.parts if part != "."]

    def _open(self, path: str, flags: int, *, want: str, create: bool = False) -> int:
        """An fd for `path` (an `O_*` flags open of its last component), resolved beneath the workspace.

        `want` is "file" (a regular file; with `create`, made when missing, parents too) or "dir". Every
        component is opened relative to its parent's fd with `O_NOFOLLOW`; symlinks are resolved by hand
        inside the workspace. The returned fd is checked to be what was asked for, so nothing is read from a
        file that was swapped in after a check.
        """
        stack = [os.open(self.dir, _DIR_FLAGS)]  # directory fds from the root down to the current one
        todo = list(reversed(self._parts(path)))
        links = 0
        try:
            while todo:
                name = todo.pop()
                if name == "..":
                    if len(stack) == 1:
                        raise PathEscapeError(f"path {path!r} is outside the workspace {self.visible_root}")
                    os.close(stack.pop())
                    continue
                last = not todo
                try:
                    if last and want == "file":
                        fd = os.open(
                            name, flags | _FILE_FLAGS | (os.O_CREAT if create else 0), 0o644, dir_fd=stack[-1]
                        )
                        if create and self.owner is not None:
                            os.fchown(fd, *self.owner)
                    else:
                        fd = os.open(name, _DIR_FLAGS, dir_fd=stack[-1])
                except FileNotFoundError:
                    if not (create and not last):
                        raise
                    os.mkdir(name, 0o755, dir_fd=stack[-1])
                    fd = os.open(name, _DIR_FLAGS, dir_fd=stack[-1])
                    if self.owner is not None:
                        os.fchown(fd, *self.owner)
                except OSError as err:
                    if err.errno not in (errno.ELOOP, errno.ENOTDIR, errno.EMLINK):
                        raise
                    target = self._symlink_target(name, stack[-1])
                    if target is None and err.errno != errno.ELOOP:
                        raise
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise OSError(errno.ELOOP, f"too many symbolic links in {path!r}") from None
                    if target is None:  # a symlink at open, something else now: being swapped; look again
                        todo.append(name)
                        continue
                    if target.startswith("/"):  # absolute: restart from the root, which it must lie under
                        for extra in stack[1:]:
                            os.close(extra)
                        del stack[1:]
                    todo.extend(reversed(self._parts(target)))
                    continue
                stack.append(fd)
            fd = stack.pop() if len(stack) > 1 else os.dup(stack[0])
        finally:
            for opened in stack:
                os.close(opened)
        self._check_kind(fd, path, want)
        return fd

    @staticmethod
    def _symlink_target(name: str, dir_fd: int) -> str | None:
        try:
            return os.readlink(name, dir_fd=dir_fd)
        except OSError:
            return None

    @staticmethod
    def _check_kind(fd: int, path: str, want: str) -> None:
        mode = os.fstat(fd).st_mode
        if want == "dir" and not stat.S_ISDIR(mode):
            os.close(fd)
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
        if want == "file" and not stat.S_ISREG(mode):
            os.close(fd)
            if stat.S_ISDIR(mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory", path)
            raise UnsafeFileError(f"{path} is not a regular file (a pipe, socket or device); refused")

    def read(self, path: str, limit: int = MAX_READ_BYTES) -> bytes:
        """The bytes of the regular file `path`; `UnsafeFileError` when it holds more than `limit`."""
        fd = self._open(path, os.O_RDONLY, want="file")
        with os.fdopen(fd, "rb") as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise UnsafeFileError(f"{path} is larger than {limit} bytes; refused")
        return data

    def write(self, path: str, data: bytes | str) -> None:
        """Replace the content of the regular file `path` (made, with its parents, when missing)."""
        if not isinstance(data, bytes | str):
            raise TypeError(f"data must be bytes or str, got {type(data).__name__}")
        payload = data.encode() if isinstance(data, str) else data
        fd = self._open(path, os.O_WRONLY, want="file", create=True)
        with os.fdopen(fd, "wb") as f:
            f.truncate(0)
            f.write(payload)

    def list(self, path: str = ".") -> list[str]:
        fd = self._open(path, os.O_RDONLY, want="dir")
        try:
            return sorted(os.listdir(fd))
        finally:
            os.close(fd)

    def diff_against(self, baseline: Path, skip_dirs: frozenset[str]) -> WorkspaceDiff:
        """How the workspace's regular files differ from the trusted host tree `baseline`.

        Read without following any symlink: symlinks, FIFOs, devices and files over `MAX_READ_BYTES` in the
        workspace count as absent (they are not content a grader takes from the agent). Files with the
        baseline's size and mtime are taken as unchanged without being read (a change hidden that way is
        simply not taken). Directories named in `skip_dirs` are not entered on either side."""
        seen: set[str] = set()
        changed: dict[str, bytes] = {}
        for top, dirs, names, dir_fd in os.fwalk(self.dir, follow_symlinks=False):
            dirs[:] = [d for d in dirs if d not in skip_dirs]
            rel = os.path.relpath(top, self.dir)
            for name in names:
                path = os.path.normpath(os.path.join(rel, name))
                data = _read_regular(name, dir_fd, baseline / path)
                if data is _ABSENT:
                    continue
                seen.add(path)
                if data is not _UNCHANGED:
                    changed[path] = data
        removed = []
        for top, dirs, names in os.walk(baseline):
            dirs[:] = [d for d in dirs if d not in skip_dirs]
            rel = os.path.relpath(top, baseline)
            removed += [p for n in names if (p := os.path.normpath(os.path.join(rel, n))) not in seen]
        return WorkspaceDiff(changed, sorted(removed))

    def watch_changes(self) -> None:
        """Start (or restart) noting changed files for `drain_changes()` (see `prm.sandboxes.changes`)."""
        self.stop_watching()
        try:
            self._watcher = ChangeWatcher(self.dir)
        except OSError as err:  # EMFILE: this user's inotify instances are used up (a host limit)
            raise SandboxError(
                f"cannot watch the workspace for changes ({err.strerror}); raise the host's limit, e.g. "
                "`sysctl fs.inotify.max_user_instances=8192`"
            ) from err

    def drain_changes(self) -> list[str]:
        """Files changed since `watch_changes()` or the last call, from the kernel (not from any command)."""
        if self._watcher is None:
            raise RuntimeError("call watch_changes() before drain_changes()")
        return self._watcher.drain()

    def stop_watching(self) -> None:
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None

    def snapshot(self) -> WorkspaceSnapshot:
        self._snapshots += 1
        dest = self.root / "snapshots" / str(self._snapshots)
        if self.copy_on_write:
            dest.parent.mkdir(exist_ok=True)
            cow.snapshot(self.dir, dest, readonly=True)
        else:
            dest.mkdir(parents=True)
            copy_tree(self.dir, dest)
        return WorkspaceSnapshot(dest)

    def restore(self, snapshot: object) -> None:
        if not isinstance(snapshot, WorkspaceSnapshot):
            raise TypeError(f"restore() needs a snapshot from snapshot(), got {type(snapshot).__name__}")
        if not snapshot.path.is_dir():
            raise SandboxError(f"snapshot {snapshot.path} no longer exists (its sandbox was closed)")
        if self.copy_on_write:
            self._swap_in(snapshot.path)
            return
        # Move the current files aside (renames are instant), copy the snapshot in, delete the old files later.
        trash = Path(tempfile.mkdtemp(prefix="trash-", dir=self.root))
        for entry in os.scandir(self.dir):
            with contextlib.suppress(FileNotFoundError):  # removed meanwhile by a process of the sandbox
                os.rename(entry.path, trash / entry.name)
        copy_tree(snapshot.path, self.dir)
        if self._watcher is not None:  # the host replaced the files: not the agent's change
            self.watch_changes()
        threading.Thread(
            target=shutil.rmtree, args=(trash,), kwargs={"ignore_errors": True}, daemon=True
        ).start()

    def remove(self) -> None:
        self.stop_watching()
        cow.remove_root(self.root)


class HostWorkspaceOps:
    """The file operations of a sandbox whose workspace is a `HostWorkspace` (`_ws`), for both back ends:
    each checks first that the sandbox is usable (`_check_usable`, which raises `SandboxError` otherwise)."""

    _ws: HostWorkspace

    def _check_usable(self) -> None:
        raise NotImplementedError

    def read_file(self, path: str) -> bytes:
        self._check_usable()
        return self._ws.read(path)

    def write_file(self, path: str, data: bytes | str) -> None:
        self._check_usable()
        self._ws.write(path, data)

    def list_dir(self, path: str = ".") -> list[str]:
        self._check_usable()
        return self._ws.list(path)

    def watch_changes(self) -> None:
        """Start noting which workspace files change (from the host's kernel; see `prm.sandboxes.changes`)."""
        self._ws.watch_changes()

    def drain_changes(self) -> list[str]:
        """Workspace files changed since `watch_changes()` or the previous call, relative to the workspace."""
        return self._ws.drain_changes()

    def diff_against(self, baseline: Path, skip_dirs: frozenset[str] = frozenset()) -> WorkspaceDiff:
        """The workspace's regular files that differ from the host tree `baseline`, read without following
        symlinks (see `HostWorkspace.diff_against`)."""
        return self._ws.diff_against(baseline, skip_dirs)

    def snapshot(self) -> WorkspaceSnapshot:
        self._check_usable()
        return self._ws.snapshot()

    def restore(self, snapshot: object) -> None:
        self._check_usable()
        self._ws.restore(snapshot)


def new_root(prefix: str) -> Path:
    """A fresh private directory for one sandbox (workspace plus snapshots), its owner noted for `prm clean`.

    Under `prm.sandboxes.cow.sandbox_parent()`: `$PRM_SANDBOX_DIR` when set, else the copy-on-write pool
    that `scripts/setup.sh` mounts, else the system temporary directory.
    """
    parent = cow.sandbox_parent()
    if parent:
        parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    write_owner_file(root)
    return root
