"""One headless Chromium per process, driven by Playwright's async API on a private event-loop thread.

Every env of the process opens its own browser context (cookies, storage and pages of its own) in this one
browser. Callers are synchronous: `SharedBrowser.call(coro_fn)` runs the coroutine on the private loop and
waits, so an env works the same from plain code and from code already running inside an asyncio event loop
(where Playwright's sync API refuses to start).

Chromium is Debian's (`chromium`, installed by scripts/setup.sh; `PRM_CHROMIUM` overrides the path), launched
with `CHROMIUM_FLAGS`. A browser that died is relaunched on the next `context()`.

>>> browser = SharedBrowser.get()
>>> async def title(context):
...     page = await context.new_page()
...     await page.set_content("<title>hi</title>")
...     return await page.title()
>>> context = browser.context()
>>> browser.call(lambda: title(context))
'hi'
>>> browser.call(context.close)
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from playwright.async_api import Browser, BrowserContext, Playwright, async_playwright

from prm.envs.web.server import per_process
from prm.errors import SandboxError

T = TypeVar("T")
CHROMIUM_FLAGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)
CALL_TIMEOUT_S = 120.0
"""Longest a single browser call may take before it counts as an infrastructure failure."""


def chromium_path() -> str:
    """Debian's Chromium (or `$PRM_CHROMIUM`); a clear error when it is missing."""
    path = os.environ.get("PRM_CHROMIUM") or shutil.which("chromium")
    if not path:
        raise SandboxError(
            "Chromium not found: run scripts/setup.sh (Debian package 'chromium') or set PRM_CHROMIUM"
        )
    return path


class SharedBrowser:
    """The process's browser and the event-loop thread that owns every Playwright object."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="prm-web-browser", daemon=True)
        self._thread.start()
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._launch_lock = threading.Lock()

    @classmethod
    def get(cls) -> SharedBrowser:
        """The process-wide instance (created on first use; a forked child process gets its own)."""
        return per_process(cls)

    def call(self, coro_fn: Callable[[], Awaitable[T]], timeout: float = CALL_TIMEOUT_S) -> T:
        """Runs `coro_fn()` on the browser's loop and returns its result (its exception is re-raised here)."""
        if threading.current_thread() is self._thread:
            raise RuntimeError("SharedBrowser.call from the browser's own loop would deadlock")

        async def bounded() -> T:
            return await asyncio.wait_for(coro_fn(), timeout)

        try:
            return asyncio.run_coroutine_threadsafe(bounded(), self._loop).result()
        except TimeoutError as err:
            raise SandboxError(f"browser call did not answer within {timeout:.0f} s") from err

    @property
    def connected(self) -> bool:
        return self._browser is not None and self._browser.is_connected()

    async def _launch(self) -> Browser:
        if self._playwright is None:
            self._playwright = await async_playwright().start()
        if self._browser is not None:
            await self._close_quietly(self._browser)
        self._browser = await self._playwright.chromium.launch(
            executable_path=chromium_path(), headless=True, args=list(CHROMIUM_FLAGS)
        )
        return self._browser

    @staticmethod
    async def _close_quietly(browser: Browser) -> None:
        with contextlib.suppress(Exception):  # a dead browser may fail to close; it is being replaced
            await browser.close()

    def context(self, **options: Any) -> BrowserContext:
        """A new browser context (`options`: Playwright's `new_context` arguments); relaunches a dead browser."""

        async def open_context() -> BrowserContext:
            browser = self._browser if self.connected else await self._launch()
            return await browser.new_context(**options)

        with self._launch_lock:
            try:
                return self.call(open_context)
            except SandboxError:
                raise
            except Exception as err:
                raise SandboxError(f"cannot start Chromium: {err}") from err
