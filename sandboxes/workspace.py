"""A sandbox workspace kept in a host directory: file operations, snapshots and copies on the host side.

Both back ends keep the workspace on the host (`LocalSandbox` runs commands in it; `DockerSandbox`
bind-mounts it into the container), so reading and writing files, snapshots, restores and forks are plain
host-side file operations: `cp -a` of the tree, which keeps modes, times, symlinks and owners.

Paths given by users are relative to the workspace or absolute under `visible_root` (the workspace's path
as commands see it). A path whose resolved location (symlinks followed) leaves the workspace raises
`PathEscapeError`.

Example:
    >>> import tempfile
    >>> ws = HostWorkspace.create(tempfile.mkdtemp(), visible_root="/workspace")
    >>> ws.write("a/b.txt", "hi"); ws.read("/workspace/a/b.txt")
    b'hi'
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from prm.errors import PathEscapeError, SandboxError


def copy_tree(src: Path, dst: Path) -> None:
    """Copy the contents of `src` into the existing directory `dst`, keeping metadata (`cp -a`)."""
    proc = subprocess.run(
        ["cp", "-a", "--reflink=auto", f"{src}/.", f"{dst}/"], capture_output=True, text=True, timeout=600
    )
    if proc.returncode != 0:
        raise SandboxError(f"copying {src} to {dst} failed: {proc.stderr.strip()[-500:]}")


@dataclass(frozen=True)
class WorkspaceSnapshot:
    """A frozen copy of a workspace. Restorable into the sandbox that took it or any of its forks."""

    path: Path


class HostWorkspace:
    """The host directory `dir` holding a workspace seen by commands as `visible_root`."""

    def __init__(self, root: Path, visible_root: str, owner: tuple[int, int] | None):
        self.root = root
        self.dir = root / "workspace"
        self.visible_root = visible_root
        self.owner = owner
        self._snapshots = 0

    @classmethod
    def create(
        cls,
        root: str | Path,
        visible_root: str | None = None,
        seed: str | Path | None = None,
        owner: tuple[int, int] | None = None,
    ) -> HostWorkspace:
        """Make `root/workspace`, seeded with a copy of `seed`; chown everything to `owner` when given."""
        root = Path(root)
        ws = cls(root, visible_root or str(root / "workspace"), owner)
        ws.dir.mkdir(parents=True)
        if seed is not None:
            seed = Path(seed)
            if not seed.is_dir():
                raise FileNotFoundError(f"workspace_from={str(seed)!r} is not a directory")
            copy_tree(seed, ws.dir)
        if owner is not None:
            for path in [ws.dir, *ws.dir.rglob("*")]:
                os.lchown(path, *owner)
        return ws

    def clone(self, root: str | Path, visible_root: str | None = None, *, fill: bool = True) -> HostWorkspace:
        """A new workspace under `root` with this one's owner, holding a copy of this one's files.

        With `fill=False` it starts empty; call `copy_into(clone)` later (e.g. while a container starts).
        """
        root = Path(root)
        ws = HostWorkspace(root, visible_root or str(root / "workspace"), self.owner)
        ws.dir.mkdir(parents=True)
        if self.owner is not None:
            os.lchown(ws.dir, *self.owner)
        if fill:
            self.copy_into(ws)
        return ws

    def copy_into(self, other: HostWorkspace) -> None:
        """Copy this workspace's files into `other`'s directory, keeping owners and modes."""
        copy_tree(self.dir, other.dir)

    def resolve(self, path: str) -> Path:
        """The host path for a user-given `path`; raises PathEscapeError when it leaves the workspace."""
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a string, got {type(path).__name__}")
        given = PurePosixPath(path)
        if given.is_absolute():
            try:
                given = given.relative_to(self.visible_root)
            except ValueError:
                raise PathEscapeError(
                    f"path {str(path)!r} is outside the workspace {self.visible_root}"
                ) from None
        host = Path(os.path.realpath(self.dir / given))
        base = Path(os.path.realpath(self.dir))
        if host != base and base not in host.parents:
            raise PathEscapeError(f"path {str(path)!r} resolves outside the workspace {self.visible_root}")
        return host

    def read(self, path: str) -> bytes:
        return self.resolve(path).read_bytes()

    def write(self, path: str, data: bytes | str) -> None:
        if not isinstance(data, bytes | str):
            raise TypeError(f"data must be bytes or str, got {type(data).__name__}")
        target = self.resolve(path)
        missing = [p for p in reversed(target.parents) if not p.exists()]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data.encode() if isinstance(data, str) else data)
        if self.owner is not None:
            for created in [*missing, target]:
                os.lchown(created, *self.owner)

    def list(self, path: str = ".") -> list[str]:
        return sorted(os.listdir(self.resolve(path)))

    def snapshot(self) -> WorkspaceSnapshot:
        self._snapshots += 1
        dest = self.root / "snapshots" / str(self._snapshots)
        dest.mkdir(parents=True)
        copy_tree(self.dir, dest)
        return WorkspaceSnapshot(dest)

    def restore(self, snapshot: object) -> None:
        if not isinstance(snapshot, WorkspaceSnapshot):
            raise TypeError(f"restore() needs a snapshot from snapshot(), got {type(snapshot).__name__}")
        if not snapshot.path.is_dir():
            raise SandboxError(f"snapshot {snapshot.path} no longer exists (its sandbox was closed)")
        # Move the current files aside (renames are instant), copy the snapshot in, delete the old files later.
        trash = Path(tempfile.mkdtemp(prefix="trash-", dir=self.root))
        for entry in os.scandir(self.dir):
            os.rename(entry.path, trash / entry.name)
        copy_tree(snapshot.path, self.dir)
        threading.Thread(
            target=shutil.rmtree, args=(trash,), kwargs={"ignore_errors": True}, daemon=True
        ).start()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def new_root(prefix: str) -> Path:
    """A fresh private directory for one sandbox (workspace plus snapshots).

    Under `$PRM_SANDBOX_DIR` when set, else the system temporary directory. Point it at a file system with
    reflinks (XFS, btrfs) and workspace copies (fork, snapshot, restore) share blocks instead of copying them.
    """
    parent = os.environ.get("PRM_SANDBOX_DIR") or None
    if parent:
        Path(parent).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
