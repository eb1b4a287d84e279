"""A real OpenAI-compatible chat-completions server on loopback, for the agent tests (standard library only).

`ChatServer(reply)` serves POST /v1/chat/completions: `reply(messages, tools)` gives the model's text (e.g.
the tiny transformers model); a reply that is only a JSON call of one of the request's tools goes back as a native
`tool_calls` entry, anything else as plain content. `failures` (request index -> HTTP status) and
`garbage=True` make it misbehave; `fail_when` (text) answers `fail_status` (500) to every request whose messages
contain it; `down()` takes the endpoint away (connections refused) and `up()` brings it back on the same port
(`prm.bench.outage`). Used by the agent and judge tests and by the model-endpoint faults of `prm bench hostile`.

>>> with ChatServer(lambda messages, tools: "hello") as server:
...     server.base_url.startswith("http://127.0.0.1:")
True
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prm.bench.outage import RestartableServer
from prm.tools import ActionError, parse_tool_call


class ChatServer(RestartableServer):
    def __init__(
        self,
        reply: Callable[[list[dict], list[dict]], str],
        *,
        failures: dict[int, int] | None = None,
        garbage: bool = False,
        fail_when: str | None = None,
        fail_status: int = 500,
    ):
        self.reply, self.failures, self.garbage, self.fail_when = reply, failures or {}, garbage, fail_when
        self.fail_status = fail_status
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status, payload = server.answer(self.path, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(lambda port: ThreadingHTTPServer(("127.0.0.1", port), Handler))

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("the server has not started: use it as a context manager or call up()")
        return f"{self.url}/v1"

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        with self._lock:
            index = len(self.requests)
            self.requests.append(body)
        if path != "/v1/chat/completions":
            return 404, {"error": {"message": f"no route {path}"}}
        if index in self.failures:
            return self.failures[index], {"error": {"message": "server overloaded"}}
        if self.fail_when and any(self.fail_when in str(m["content"]) for m in body["messages"]):
            return self.fail_status, {"error": {"message": "this request cannot be served"}}
        if self.garbage:
            return 200, b"<html>502 bad gateway, but with status 200</html>"
        text = self.reply(body["messages"], body.get("tools", []))
        message: dict[str, Any] = {"role": "assistant", "content": text}
        names = {tool["function"]["name"] for tool in body.get("tools", [])}
        try:  # a reply that is only a JSON call becomes a native call; prose around it stays content
            call = (
                parse_tool_call(text) if text.strip().startswith("{") and text.strip().endswith("}") else None
            )
        except ActionError:
            call = None
        if call is not None and call.tool in names:
            arguments = json.dumps(call.args)
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{index}",
                        "type": "function",
                        "function": {"name": call.tool, "arguments": arguments},
                    }
                ],
            }
        prompt_tokens = sum(
            len(str(m["content"]).split()) for m in body["messages"]
        )  # content: text or parts
        return 200, {
            "id": f"chatcmpl-{index}",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if call else "stop"}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": len(text.split()),
                "total_tokens": prompt_tokens + len(text.split()),
            },
        }
