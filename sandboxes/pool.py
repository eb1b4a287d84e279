"""`SandboxPool`: started sandboxes of one configuration, kept ready so that opening one costs nothing.

Starting a Docker sandbox (create, start, attach, seed the workspace) is nearly all of a `prm/swe-v0` reset.
A pool holds up to `size` sandboxes started in the background from one `open_sandbox` callable (one image,
workspace seed and limits); `take()` hands out the oldest (waiting for it if it is still starting), and a
replacement starts in the background at once. A sandbox handed out is never handed out again: `release()`
closes it in the background (so a reset does not wait for a container's removal either), and `close()`
closes every sandbox the pool still holds and waits for its background work. A pooled sandbox that failed to
start is replaced by a fresh start in `take()`, whose failure (a `SandboxError`) reaches the caller.

Example:
    >>> from prm.sandboxes.local import LocalSandbox
    >>> with SandboxPool(LocalSandbox, size=1) as pool:
    ...     sandbox = pool.take()  # started while the caller did other work
    ...     sandbox.exec("echo ok").stdout
    ...     pool.release(sandbox)
    'ok\\n'
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Self

from prm.errors import SandboxError
from prm.sandboxes.base import Sandbox


class SandboxPool:
    """Up to `size` sandboxes from `open_sandbox`, started ahead of time (see the module docstring)."""

    def __init__(self, open_sandbox: Callable[[], Sandbox], size: int = 1):
        if size < 1:
            raise ValueError(f"a pool holds at least one sandbox, got size={size}")
        self._open = open_sandbox
        self.size = size
        self._lock = threading.Lock()
        self._ready: deque[Future[Sandbox]] = deque()
        self._executor = ThreadPoolExecutor(2, thread_name_prefix="prm-pool")
        self._closed = False
        self._refill()

    def _refill(self) -> None:
        with self._lock:
            while not self._closed and len(self._ready) < self.size:
                self._ready.append(self._executor.submit(self._open))

    def take(self) -> Sandbox:
        """A started sandbox, now the caller's; the pool starts its replacement in the background."""
        with self._lock:
            if self._closed:
                raise SandboxError("this sandbox pool is closed")
            future = self._ready.popleft()
        self._refill()
        try:
            return future.result()
        except SandboxError:
            return self._open()  # the pooled start failed (perhaps long ago): a fresh try decides

    def wait_ready(self) -> None:
        """Blocks until every sandbox the pool holds has finished starting (e.g. before timing a `take`)."""
        with self._lock:
            pending = list(self._ready)
        for future in pending:
            future.exception()

    def release(self, sandbox: Sandbox) -> None:
        """Closes a sandbox that `take` handed out, in the background (it never returns to the pool)."""
        with self._lock:
            if not self._closed:
                self._executor.submit(sandbox.close)
                return
        sandbox.close()

    def close(self) -> None:
        """Closes every sandbox still in the pool and waits for background starts and closes to end."""
        with self._lock:
            self._closed = True
            pending, self._ready = list(self._ready), deque()
        for future in pending:
            future.cancel()  # not started yet: never starts
            future.add_done_callback(_close_started)
        self._executor.shutdown(wait=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _close_started(future: Future[Sandbox]) -> None:
    if not future.cancelled() and future.exception() is None:
        with contextlib.suppress(SandboxError):
            future.result().close()
