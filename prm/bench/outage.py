"""A loopback HTTP server that can go down and come back on the same port: what a fault of `prm bench hostile`
takes away from a rollout (a model endpoint, a search service).

`down()` shuts the server and closes its socket, so that a client's connection is refused (as when the
process behind an endpoint died); `up()` serves again on the port it had. `make(port)` builds the server
(port 0 the first time: a free one).

>>> import urllib.request
>>> from http.server import SimpleHTTPRequestHandler
>>> with RestartableServer(lambda port: ThreadingHTTPServer(("127.0.0.1", port), SimpleHTTPRequestHandler)) as service:
...     service.down()
...     urllib.request.urlopen(service.url, timeout=10)
Traceback (most recent call last):
urllib.error.URLError: <urlopen error [Errno 111] Connection refused>
>>> service.up()
>>> service.running, service.port == int(service.url.rsplit(":", 1)[1])
(True, True)
>>> service.down()
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer


class RestartableServer:
    def __init__(self, make: Callable[[int], ThreadingHTTPServer]):
        self._make = make
        self.port = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        # the episodes of a rollout open in threads (`RolloutEngine.on_start`): one up() or down() at a time
        self._switch = threading.Lock()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def up(self) -> None:
        """Serves (again) on `port`; nothing to do when it runs."""
        with self._switch:
            if self._httpd is not None:
                return
            self._httpd = self._make(self.port)
            self.port = self._httpd.server_address[1]
            self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
            self._thread.start()

    def down(self) -> None:
        """Stops serving and closes the socket (connections are refused); nothing to do when it is down."""
        with self._switch:
            if self._httpd is None:
                return
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=30)
            self._httpd = self._thread = None

    def __enter__(self) -> RestartableServer:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()
