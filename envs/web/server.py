"""The loopback HTTP server that serves every page an env may open: the MiniWoB++ task pages (from the
PyPI `miniwob` package) under `/miniwob/`, and the authored apps (`scenarios/web/apps/`) under `/apps/`.

One server per process, on 127.0.0.1 and a free port, static files only; scenario files (with their success
checks and oracles) live outside the served folders, so no page can read them.

>>> import urllib.request
>>> server = PageServer.get()
>>> server.url("/apps/todo/index.html").startswith("http://127.0.0.1:")
True
>>> urllib.request.urlopen(server.url("/apps/todo/index.html")).status
200
"""

from __future__ import annotations

import functools
import os
import sys
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar, TypeVar

from prm.scenario import packaged_scenarios

T = TypeVar("T")
_instance_lock = threading.Lock()


@functools.cache
def _instance(cls: type[T], pid: int) -> T:
    return cls()


def per_process(cls: type[T]) -> T:
    """One instance of `cls` per OS process (a child made by fork() must not share its parent's threads)."""
    with _instance_lock:
        return _instance(cls, os.getpid())


def miniwob_root() -> Path:
    """The folder of MiniWoB++ HTML that the `miniwob` package ships (`core/`, `common/`, `miniwob/`)."""
    import miniwob

    return Path(miniwob.__file__).parent / "html"


def apps_root() -> Path:
    return packaged_scenarios("web") / "apps"


class _Handler(SimpleHTTPRequestHandler):
    """Static files from the mount a path starts with; anything else is 404 (no directory listings)."""

    mounts: ClassVar[dict[str, Path]] = {}

    def translate_path(self, path: str) -> str:
        prefix, _, rest = path.lstrip("/").partition("/")
        root = self.mounts.get(prefix)
        if root is None:
            return str(Path(os.devnull) / "missing")
        self.directory = str(root)
        return super().translate_path("/" + rest)

    def guess_type(self, path: str | os.PathLike) -> str:
        kind = super().guess_type(path)
        return f"{kind}; charset=utf-8" if kind.startswith("text/") or kind.endswith("javascript") else kind

    def list_directory(self, path: str | os.PathLike) -> None:
        self.send_error(404, "no listings")
        return None

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: tuple) -> None:
        """A browser that closes a page mid-transfer (a context closed at reset) is normal, not an error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class PageServer:
    """The process's page server (started on first use, a daemon thread)."""

    def __init__(self) -> None:
        mounts = {"miniwob": miniwob_root(), "apps": apps_root()}
        handler = type("PageHandler", (_Handler,), {"mounts": mounts})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self._httpd.serve_forever, name="prm-web-pages", daemon=True).start()

    @classmethod
    def get(cls) -> PageServer:
        """The process-wide instance (started on first use; a forked child process gets its own)."""
        return per_process(cls)

    @property
    def origin(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.origin + "/" + path.lstrip("/")
