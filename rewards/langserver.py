"""A minimal Language Server Protocol client over stdio, for a Pyright language server (basedpyright).

It speaks just what diagnostics need: `initialize`, `textDocument/didOpen|didChange|didClose`,
`workspace/didChangeWatchedFiles` (deletions), and
`textDocument/diagnostic` (LSP 3.17 pull diagnostics): `diagnostics(uri)` returns the diagnostics of the
document's current text once the server has checked it. (Pyright's pushed `publishDiagnostics` is not
used: for a new version it first publishes the parse-stage list, often empty, and the checked list later,
so waiting for "the publication of version v" races; the pull request answers after checking. Pulling also
skips Pyright's 250 ms typing back-off after `didChange`.) A reader thread routes responses and answers the
server's own requests.

>>> import pathlib, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with LanguageServer(root) as server:
...     uri = server.set_text("m.py", "x: int = 'a'\\n")
...     [d["severity"] for d in server.diagnostics(uri)]
[1]

The server is PyPI `basedpyright` (which bundles Node), started through the running interpreter
(`server_command()`: `sys.executable -c "from basedpyright.langserver import main; main()" --stdio`), so the
server is the one installed for this Python, never another installation's `basedpyright-langserver` that
happens to come first on PATH (e.g. a virtual environment run without activation). `server_info()` gives
its name and version. A server that dies or stops answering raises
`LanguageServerError`; the caller starts a new one.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from prm.errors import PrmError

SERVER_PACKAGE = "basedpyright"
INSTALL_HINT = "pip install basedpyright==1.40.2"
ANALYSIS_SETTINGS = {
    "typeCheckingMode": "standard",
    "diagnosticMode": "openFilesOnly",
    "autoSearchPaths": True,
    "useLibraryCodeForTypes": True,
}


class LanguageServerError(PrmError):
    """The language server died, failed to start or did not answer in time (an infrastructure failure)."""


def server_command() -> tuple[str, ...]:
    """The command that starts the basedpyright language server installed for the running interpreter;
    `LanguageServerError` when this interpreter has none."""
    if importlib.util.find_spec(SERVER_PACKAGE) is None:
        raise LanguageServerError(f"'{SERVER_PACKAGE}' is not installed for {sys.executable}: {INSTALL_HINT}")
    return (sys.executable, "-c", f"from {SERVER_PACKAGE}.langserver import main; main()", "--stdio")


class LanguageServer:
    """A running language server rooted at `root` (a host directory holding the files it analyses)."""

    def __init__(self, root: str | Path, *, timeout: float = 60.0, command: tuple[str, ...] | None = None):
        self.root = Path(root).resolve()
        self.timeout = timeout
        self.command = command or server_command()
        self._lock = threading.Condition()
        self._write_lock = threading.Lock()
        self._start()

    # --- process and protocol ------------------------------------------------------------------
    def _start(self) -> None:
        self._next_id = 0
        self._responses: dict[int, Any] = {}
        self._versions: dict[str, int] = {}
        self._closed = False
        self.process = subprocess.Popen(
            list(self.command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=self.root,
        )
        self._reader = threading.Thread(target=self._read_loop, args=(self.process.stdout,), daemon=True)
        self._reader.start()
        result = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": self.root.as_uri(),
                "workspaceFolders": [{"uri": self.root.as_uri(), "name": self.root.name}],
                "capabilities": {
                    "textDocument": {
                        "diagnostic": {"dynamicRegistration": True},
                        "synchronization": {"didSave": False},
                    },
                    "workspace": {"configuration": True, "workspaceFolders": True},
                },
            },
        )
        info = result.get("serverInfo") or {}
        self._server_info = {"name": info.get("name", SERVER_PACKAGE), "version": info.get("version", "?")}
        self.notify("initialized", {})

    def _send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        stdin = self.process.stdin
        try:
            with self._write_lock:
                stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                stdin.flush()
        except (BrokenPipeError, OSError, ValueError) as err:
            raise LanguageServerError(f"language server is gone: {err}") from err

    def _read_loop(self, stream: IO[bytes]) -> None:
        with contextlib.suppress(OSError, ValueError):  # the pipe closed under us (shutdown, killed server)
            self._read_messages(stream)
        with self._lock:
            self._closed = True
            self._lock.notify_all()

    def _read_messages(self, stream: IO[bytes]) -> None:
        while True:
            length = None
            while True:
                line = stream.readline()
                if not line:
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            if length is None:
                continue
            self._dispatch(json.loads(stream.read(length)))

    def _dispatch(self, message: dict[str, Any]) -> None:
        method = message.get("method")
        if method is None:  # a response to one of our requests
            with self._lock:
                self._responses[message["id"]] = message
                self._lock.notify_all()
        elif "id" in message:  # a request from the server
            with contextlib.suppress(LanguageServerError):  # a dying server: the waiting caller sees it exit
                self._send({"id": message["id"], "result": self._answer(method, message.get("params") or {})})

    @staticmethod
    def _answer(method: str, params: dict[str, Any]) -> Any:
        if method == "workspace/configuration":
            return [
                {"analysis": ANALYSIS_SETTINGS}
                if item.get("section") in ("python", "basedpyright")
                else ANALYSIS_SETTINGS
                if item.get("section", "").endswith(".analysis")
                else {}
                for item in params.get("items", [])
            ]
        return None  # client/registerCapability, window/workDoneProgress/create, ...

    def _wait(self, ready, what: str) -> Any:
        deadline = time.monotonic() + self.timeout
        with self._lock:
            while True:
                value = ready()
                if value is not None:
                    return value
                if self._closed or self.process.poll() is not None:
                    raise LanguageServerError(
                        f"language server exited (code {self.process.poll()}) while {what}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LanguageServerError(
                        f"language server did not answer within {self.timeout:.0f}s ({what})"
                    )
                self._lock.wait(remaining)

    def request(self, method: str, params: dict[str, Any]) -> Any:
        with self._lock:
            self._next_id += 1
            request_id = self._next_id
        self._send({"id": request_id, "method": method, "params": params})
        response = self._wait(lambda: self._responses.pop(request_id, None), f"waiting for '{method}'")
        if "error" in response:
            raise LanguageServerError(f"'{method}' failed: {response['error']}")
        return response.get("result") or {}

    def notify(self, method: str, params: dict[str, Any]) -> None:
        self._send({"method": method, "params": params})

    # --- documents ------------------------------------------------------------------------------
    def uri(self, path: str) -> str:
        return (self.root / path).as_uri()

    def set_text(self, path: str, text: str) -> str:
        """Makes `text` the content of `path` (relative to the root): opens it, or sends the new full text."""
        uri = self.uri(path)
        version = self._versions.get(uri, 0) + 1
        self._versions[uri] = version
        if version == 1:
            document = {"uri": uri, "languageId": "python", "version": version, "text": text}
            self.notify("textDocument/didOpen", {"textDocument": document})
        else:
            self.notify(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]},
            )
        return uri

    def delete(self, path: str) -> None:
        """Tells the server that `path` was deleted from the root (closing it if it was open)."""
        uri = self.uri(path)
        if self._versions.pop(uri, None) is not None:
            self.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        self.notify("workspace/didChangeWatchedFiles", {"changes": [{"uri": uri, "type": 3}]})

    def diagnostics(self, uri: str) -> list[dict]:
        """The diagnostics of the document's current text (waits until the server has checked it)."""
        return self.request("textDocument/diagnostic", {"textDocument": {"uri": uri}}).get("items", [])

    def server_info(self) -> dict[str, str]:
        return dict(self._server_info)

    # --- lifetime -------------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.process.poll() is None and not self._closed

    def shutdown(self) -> None:
        if self.alive():
            try:
                self.request("shutdown", {})
                self.notify("exit", {})
                self.process.wait(timeout=5)
            except (LanguageServerError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> LanguageServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
