"""The host side of the desktop in a sandbox: start it, send it actions, decode its observations.

`Desktop(sandbox)` sends the desktop server's source (`in_sandbox/desktop.py`) into the sandbox and starts it in
the background (Xvfb, a session D-Bus for AT-SPI, openbox); every later request is one short shell command
through the sandbox's `exec` channel (`printf` into the server's request pipe, `cat` of its reply pipe, both in
the sandbox's private `/tmp`), so no host code touches a path inside the sandbox and no interpreter starts per
step. The GUI image (`gui_image()`) is the Debian base image with the
desktop's packages added, cached by content hash like every image (`prm.sandboxes.images`).

A reply `{"invalid": ...}` becomes `ActionError` (the agent's mistake); a dead display, a server that stops
answering or a malformed reply becomes `SandboxError` (an infrastructure failure).

Example:
    >>> from prm.sandboxes.docker import DockerSandbox
    >>> with DockerSandbox(gui_image()) as sandbox:  # doctest: +SKIP
    ...     desktop = Desktop(sandbox)
    ...     desktop.observe().screenshot.shape
    (600, 800, 3)
"""

from __future__ import annotations

import base64
import json
import shlex
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from prm.errors import SandboxError
from prm.sandboxes.base import Sandbox
from prm.sandboxes.images import BASE_PACKAGES, build_base_image
from prm.tools import ActionError

GUI_PACKAGES = (
    "xvfb",
    "openbox",
    "xdotool",
    "wmctrl",
    "xclip",
    "python3-xlib",
    "python3-pil",
    "at-spi2-core",
    "python3-pyatspi",
    "dbus",
    "dbus-x11",
    "fonts-dejavu-core",
    "mousepad",
    "gnumeric",
    "galculator",
)
"""Debian packages of the GUI image, on top of the base image's (no recommends: debootstrap installs Depends)."""
WIDTH, HEIGHT = 800, 600
SERVER_SOURCE = (Path(__file__).parent / "in_sandbox" / "desktop.py").read_text(encoding="utf-8")
REQUESTS, REPLIES = "/tmp/prm-gui.requests", "/tmp/prm-gui.replies"
"""The desktop server's named pipes in the sandbox's private /tmp."""
START_TIMEOUT_S = 60.0
REQUEST_TIMEOUT_S = 60.0


def decode_screenshot(data: object, width: int, height: int) -> np.ndarray:
    """The desktop server's screenshot (raw BGRX pixels, zlib, base64) as an RGB `(height, width, 3)` array;
    anything else (not base64, not zlib, another size, a zlib bomb) is a `SandboxError`, decompressed no further
    than the expected size.

    >>> pixels = bytes([30, 20, 10, 0]) * 6  # BGRX
    >>> decode_screenshot(base64.b64encode(zlib.compress(pixels)).decode(), 3, 2)[1, 2].tolist()
    [10, 20, 30]
    """
    size = height * width * 4
    try:
        raw = zlib.decompressobj().decompress(base64.b64decode(data, validate=True), size + 1)
    except (TypeError, ValueError, zlib.error) as err:
        raise SandboxError(f"the desktop sent no readable screenshot: {err}") from err
    if len(raw) != size:
        raise SandboxError(
            f"the desktop sent a screenshot of {len(raw)} bytes, not {size} ({width}x{height} BGRX)"
        )
    return np.frombuffer(raw, np.uint8).reshape(height, width, 4)[:, :, 2::-1].copy()


def gui_image() -> str:
    """The tag of the GUI image (built on first use, minutes; then found by its content hash at once)."""
    return build_base_image(packages=(*BASE_PACKAGES, *GUI_PACKAGES))


@dataclass
class Observation:
    """What the desktop shows after a request: the screenshot (H x W x 3 uint8), windows, tree and notes."""

    screenshot: np.ndarray
    windows: list[dict[str, Any]] = field(default_factory=list)
    tree: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The text half of the observation: window list with focus, AT-SPI tree with ids, notes."""
        lines = [*self.notes, "Windows (title @x,y,width,height):"]
        for window in self.windows:
            focus = " [focused]" if window["focused"] else ""
            x, y, w, h = window["box"]
            lines.append(f"- {window['title']!r} @{x},{y},{w},{h}{focus}")
        if not self.windows:
            lines.append("- (no windows)")
        lines += ["Accessibility tree (click(id=...) clicks an element's centre):", *self.tree]
        return "\n".join(lines)


class Desktop:
    """The display and applications in `sandbox`, started at construction (see the module docstring)."""

    def __init__(self, sandbox: Sandbox, width: int = WIDTH, height: int = HEIGHT):
        self.sandbox, self.width, self.height = sandbox, width, height
        start = f"nohup python3 -c {shlex.quote(SERVER_SOURCE)} {width} {height} >/tmp/prm-gui.log 2>&1 &"
        result = sandbox.exec(start, timeout=30)
        if not result.ok:
            raise SandboxError(f"the desktop server did not start: {result.stderr.strip()[-500:]}")
        deadline = time.monotonic() + START_TIMEOUT_S
        while self._send({"op": "ping"}, missing_ok=True) is None:
            if time.monotonic() > deadline:
                log = sandbox.exec("tail -c 2000 /tmp/prm-gui.log /tmp/prm-gui-services.log", timeout=10)
                raise SandboxError(f"the desktop did not answer in {START_TIMEOUT_S} s: {log.stdout}")
            time.sleep(0.1)

    def launch(self, name: str, command: str, title: str, timeout: float) -> None:
        """Starts an application and waits for its window; a failure names the application's log tail."""
        reply = self._send(
            {"op": "launch", "name": name, "command": command, "title": title, "timeout": timeout},
            timeout=timeout + 10,
        )
        if "launch_error" in reply:
            log = self.sandbox.exec(
                "tail -c 1500 /tmp/prm-app-*.log /tmp/prm-gui-services.log", timeout=10
            ).stdout
            raise SandboxError(f"application '{name}' did not start: {reply['launch_error']}\n{log}")

    def observe(self, tree: bool = True) -> Observation:
        return self._observation(self._send({"op": "observe", "tree": tree}))

    def act(self, action: dict[str, Any], tree: bool = True) -> Observation:
        """Performs one input action (`{"op": "click", "x": .., "y": ..}`, ...) and observes the result."""
        return self._observation(self._send({"op": "act", "action": action, "tree": tree}))

    def clipboard(self) -> str | None:
        return self._send({"op": "clipboard"})["clipboard"]

    def _observation(self, reply: dict[str, Any]) -> Observation:
        return Observation(
            decode_screenshot(reply.get("screenshot"), self.width, self.height),
            reply.get("windows", []),
            reply.get("tree", []),
            reply.get("notes", []),
        )

    def _send(
        self, request: dict[str, Any], timeout: float = REQUEST_TIMEOUT_S, missing_ok: bool = False
    ) -> dict[str, Any] | None:
        command = (
            f"[ -p {REPLIES} ] || exit 3; exec 3<>{REQUESTS}; printf '%s\\n' {shlex.quote(json.dumps(request))} >&3; "
            f"exec timeout {timeout:g} cat {REPLIES}"
        )
        result = self.sandbox.exec(command, timeout=timeout + 5)
        if result.exit_code == 3 and missing_ok:
            return None
        if result.exit_code != 0 or not result.stdout:
            why = (
                "no reply in time" if result.exit_code == 124 else result.stderr.strip()[-300:] or "no reply"
            )
            raise SandboxError(f"the desktop server is gone ({why})")
        try:
            reply = json.loads(result.stdout)
        except ValueError as err:
            raise SandboxError(f"the desktop server sent a malformed reply: {err}") from err
        if "infra" in reply:
            raise SandboxError(f"the desktop failed: {reply['infra']}")
        if "invalid" in reply:
            raise ActionError(reply["invalid"])
        return reply
