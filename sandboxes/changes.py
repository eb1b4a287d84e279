"""Which workspace files changed, told by the host's kernel (inotify), not by anything a command prints.

`ChangeWatcher(root)` watches every directory of a host workspace (`.git`, `__pycache__` and
`.pytest_cache` excepted) and `drain()` returns the files created, written, deleted or renamed since the
watch started or the last `drain()`, as sorted paths relative to the root. The cost of a `drain()` grows
with the number of changes, not with the size of the workspace; watching starts with one walk of the tree.

Details:
- a file counts as changed when its content, its existence or its metadata changed (write, create,
  delete, rename, `touch`, `chmod`), as the listing of paths, mtimes and sizes it replaces did;
- a new directory is watched at once and the files already in it are reported;
- a directory renamed away is reported as its own path with a trailing `/` (its files are not listed);
- when the kernel's event queue overflows (more than `/proc/sys/fs/inotify/max_queued_events` events
  between two drains), the tree is walked once and every file whose status-change time (which no
  unprivileged process can set) is at or after the previous drain is reported; deletions are then missed.

Watches are added through `/proc/self/fd/N` of directories opened without following symlinks, so a
directory swapped for a symlink never makes the host watch (or report on) anything outside the workspace.

Example:
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> with ChangeWatcher(root) as watcher:
    ...     _ = (root / "a.txt").write_text("x")
    ...     watcher.drain()
    ['a.txt']
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from pathlib import Path
from typing import Self

from inotify_simple import INotify
from inotify_simple import flags as F

SKIPPED_DIRS = frozenset({".git", "__pycache__", ".pytest_cache"})
_MASK = F.CREATE | F.DELETE | F.MODIFY | F.ATTRIB | F.MOVED_FROM | F.MOVED_TO | F.ONLYDIR | F.EXCL_UNLINK
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# file timestamps come from a coarse clock that may lag the monotonic one by a tick
_COARSE_CLOCK_SLACK_NS = 20_000_000


class ChangeWatcher:
    """Watches the directory tree at `root` (see the module docstring); close it to free its watches."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._inotify = INotify(nonblocking=True)
        self._dirs: dict[int, str] = {}  # watch descriptor -> directory path relative to root ("" = root)
        self._since_ns = time.time_ns()
        self._pending: set[str] = set()
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            self._watch_tree("", fd)
        finally:
            os.close(fd)
        self._pending.clear()  # what was there before the watch started is not a change

    def _watch_tree(self, rel: str, dir_fd: int) -> None:
        """Watch the directory open as `dir_fd` (at `rel`) and every directory under it; note its files."""
        for top, dirs, files, top_fd in os.fwalk(".", dir_fd=dir_fd, follow_symlinks=False):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
            here = os.path.normpath(os.path.join(rel, top)) if rel or top != "." else ""
            here = "" if here == "." else here
            try:
                wd = self._inotify.add_watch(f"/proc/self/fd/{top_fd}", _MASK)
            except OSError:
                continue  # gone meanwhile, or out of watches: the overflow path covers what is missed
            self._dirs[wd] = here
            self._pending.update(os.path.join(here, name) if here else name for name in files)

    def _watch_new_dir(self, rel: str) -> None:
        fd = self._open_beneath(rel)
        if fd is None:
            return
        try:
            self._watch_tree(rel, fd)
        finally:
            os.close(fd)

    def _open_beneath(self, rel: str) -> int | None:
        """An fd of the directory `rel`, opened component by component without following symlinks."""
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for part in Path(rel).parts:
                child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = child
        except OSError:
            os.close(fd)
            return None
        return fd

    def drain(self) -> list[str]:
        """Files changed since the watch started or the previous `drain()` (sorted, relative to the root)."""
        changed, self._pending = self._pending, set()
        overflowed = False
        for event in self._inotify.read(timeout=0):
            if event.mask & F.Q_OVERFLOW:
                overflowed = True
                continue
            if event.mask & F.IGNORED:
                self._dirs.pop(event.wd, None)
                continue
            parent = self._dirs.get(event.wd)
            if parent is None or not event.name or event.name in SKIPPED_DIRS:
                continue
            path = os.path.join(parent, event.name) if parent else event.name
            if not event.mask & F.ISDIR:  # a directory's own ATTRIB is not a file change
                changed.add(path)
            elif event.mask & (F.CREATE | F.MOVED_TO):
                self._watch_new_dir(path)
                changed |= self._pending
                self._pending = set()
            elif event.mask & F.MOVED_FROM:
                changed.add(path + "/")
        if overflowed:
            changed |= self._recently_changed()
        self._since_ns = time.time_ns()
        return sorted(changed)

    def _recently_changed(self) -> set[str]:
        """After a queue overflow: re-watch the tree and report files whose ctime is after the last drain."""
        since = self._since_ns - _COARSE_CLOCK_SLACK_NS
        found: set[str] = set()
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for top, dirs, files, top_fd in os.fwalk(".", dir_fd=fd, follow_symlinks=False):
                dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
                for name in files:
                    with contextlib.suppress(OSError):
                        st = os.stat(name, dir_fd=top_fd, follow_symlinks=False)
                        if st.st_ctime_ns >= since and not stat.S_ISDIR(st.st_mode):
                            found.add(os.path.normpath(os.path.join(top, name)))
            self._watch_tree("", fd)
            self._pending.clear()
        finally:
            os.close(fd)
        return found

    def close(self) -> None:
        self._inotify.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
