"""Search over HTTP: `HttpBackend`, a `SearchBackend` client of a JSON search service, and `make_server`,
which serves any `SearchBackend` that way (e.g. one BM25 index shared by many env processes).

The protocol (GET, JSON answers):
- `/search?q=QUERY&k=K` -> `[{"id", "title", "score"}, ...]`, best first;
- `/doc?id=DOC_ID` -> `{"id", "title", "sentences"}`, or status 404 for an unknown id (`KeyError` client-side).

>>> import threading
>>> from prm.envs.search_qa.backend import BM25Backend, Document
>>> server = make_server(BM25Backend([Document("a", "Paris", ("Paris is in France.",))], cache_dir=None))
>>> _ = threading.Thread(target=server.serve_forever, daemon=True).start()
>>> client = HttpBackend(f"http://127.0.0.1:{server.server_port}")
>>> [hit.doc_id for hit in client.search("France", k=3)], client.get("a").title
(['a'], 'Paris')
>>> server.shutdown(); server.server_close()

A service failure (refused connection, time-out, status 5xx, an answer that is not JSON or not of the protocol's
shape) raises `OSError`, which the env reports as an
infrastructure failure (`info["infra_error"]`), never as the agent's fault.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .backend import Document, Hit, SearchBackend


class HttpBackend:
    """A `SearchBackend` that asks a search service at `url` (see the module docstring for the protocol)."""

    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _get(self, path: str, **query: Any) -> Any:
        address = f"{self.url}/{path}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(address, timeout=self.timeout) as response:
            body = response.read()
        try:
            return json.loads(body)
        except ValueError as err:
            raise OSError(
                f"the search service at {self.url} answered /{path} with no JSON: {body[:80]!r}"
            ) from err

    def _read(self, path: str, build: Callable[[], Any]) -> Any:
        """`build()` from an answer; an answer of the wrong shape is the service's failure (`OSError`), never
        an unknown doc id (`KeyError`) that the agent would be blamed for."""
        try:
            return build()
        except (KeyError, TypeError, ValueError) as err:
            raise OSError(
                f"the search service at {self.url} answered /{path} in an unknown shape: {type(err).__name__}: {err}"
            ) from err

    def search(self, query: str, k: int) -> list[Hit]:
        rows = self._get("search", q=query, k=k)
        return self._read("search", lambda: [Hit(r["id"], r["title"], float(r["score"])) for r in rows])

    def get(self, doc_id: str) -> Document:
        try:
            row = self._get("doc", id=doc_id)
        except urllib.error.HTTPError as err:
            if err.code == 404:
                raise KeyError(doc_id) from None
            raise
        return self._read("doc", lambda: Document(row["id"], row["title"], tuple(row["sentences"])))


def make_server(backend: SearchBackend, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server answering the protocol from `backend` (port 0: a free port, see `server.server_port`).
    Run it with `serve_forever()`; stop it with `shutdown()` and `server_close()`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the http.server API)
            url = urllib.parse.urlsplit(self.path)
            query = dict(urllib.parse.parse_qsl(url.query))
            try:
                if url.path == "/search":
                    if not query.get("q"):
                        raise ValueError("missing parameter q (the query)")
                    hits = backend.search(query["q"], int(query.get("k", 5)))
                    self._reply(200, [{"id": h.doc_id, "title": h.title, "score": h.score} for h in hits])
                elif url.path == "/doc":
                    if "id" not in query:
                        raise ValueError("missing parameter id (the doc id)")
                    doc = backend.get(query["id"])
                    self._reply(200, {"id": doc.doc_id, "title": doc.title, "sentences": list(doc.sentences)})
                else:
                    self._reply(404, {"error": f"no such endpoint {url.path}; use /search or /doc"})
            except KeyError as err:
                self._reply(404, {"error": f"not found: {err}"})
            except ValueError as err:
                self._reply(400, {"error": str(err)})

        def _reply(self, status: int, body: Any) -> None:
            data = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the http.server API)
            """Quiet: one line per request would drown a training log."""

    return ThreadingHTTPServer((host, port), Handler)
