"""The desktop server of `prm/gui-v0`: runs INSIDE the sandbox (its source is sent in by the host; it needs the
GUI image's python3 with python3-xlib, python3-pil and python3-pyatspi, and is never imported on the host).

It starts the display (Xvfb), a session D-Bus (for AT-SPI), the window manager (openbox), and then answers one
JSON request per line on the named pipe `/tmp/prm-gui.requests` and answers on `/tmp/prm-gui.replies` (the
host's client command is `Desktop._send` in `prm.envs.gui.desktop`: a shell `printf` and `cat`, no interpreter): `ping`, `launch` (start an application and wait for its window), `act` (one input
action, then wait until the screen is still, then observe), `observe`, `clipboard`.

Input: pointer actions (move, click, double click, scroll, drag) go through the XTEST extension from this process
(python-xlib, no subprocess, no delay between the events); keyboard actions through `xdotool`, which maps any
character and keysym to a key code. Stillness (`Desktop.settle`): the screen is polled every `SETTLE_POLL_S`
(one `XGetImage`, about 2 ms, compared byte for byte with the previous one) and counts as still once it has not
changed for `SETTLE_QUIET_S` after its last change, or for `SETTLE_REACTION_S` when it never changed from the
frame captured before the input (the time an application may take to start reacting), at most `SETTLE_MAX_S`.

An observation: the screenshot (the raw BGRX pixels of `XGetImage`, zlib level 1, base64: no image codec on
the hot path), the window list (title, geometry, focus), the AT-SPI tree of the
visible elements with ids (`e1`, `e2`, ... valid until the next observation; `click(id=...)` clicks the centre),
and notes on applications that exited. A reply `{"invalid": msg}` is the agent's mistake (unknown key or id);
`{"infra": msg}` means the display itself failed (the host turns it into an infrastructure error).
"""

import base64
import contextlib
import json
import os
import subprocess
import sys
import time
import zlib

REQUESTS = "/tmp/prm-gui.requests"
REPLIES = "/tmp/prm-gui.replies"
SERVICES_LOG = "/tmp/prm-gui-services.log"
GTK_SETTINGS = "[Settings]\ngtk-cursor-blink = false\ngtk-enable-animations = false\n"
DISPLAY = ":1"
SETTLE_POLL_S = 0.01
SETTLE_QUIET_S = 0.04
SETTLE_REACTION_S = 0.08
SETTLE_MAX_S = 1.5
TYPE_DELAY_MS = "25"  # between keystrokes: faster, and some applications (galculator) drop repeated keys
DRAG_PAUSE_S = 0.05  # after the press and after the move: toolkits start a drag on a motion after a press
TREE_MAX_NODES = 150
TREE_MAX_CHILDREN = 40
TEXT_PREVIEW = 300
LAUNCH_RETRY_S = 25
MODIFIERS = {
    "ctrl": "ctrl",
    "control": "ctrl",
    "alt": "alt",
    "shift": "shift",
    "super": "super",
    "meta": "meta",
}
KEY_ALIASES = {
    "enter": "Return",
    "return": "Return",
    "esc": "Escape",
    "del": "Delete",
    "backspace": "BackSpace",
    "pgup": "Prior",
    "pageup": "Prior",
    "pgdn": "Next",
    "pagedown": "Next",
    "space": "space",
    "tab": "Tab",
}
BUTTONS = {"left": 1, "middle": 2, "right": 3}
SCROLL_BUTTONS = {"up": 4, "down": 5, "left": 6, "right": 7}


class Invalid(Exception):
    """The agent's action cannot be performed (unknown key or element id)."""


class DisplayDead(Exception):
    """The X server (or the window manager) is gone: an infrastructure failure."""


class Desktop:
    def __init__(self, width, height):
        from Xlib import display as xdisplay

        self.width, self.height = width, height
        self.env = dict(os.environ, DISPLAY=DISPLAY, DBUS_SESSION_BUS_ADDRESS="unix:path=/tmp/prm-bus")
        self.env.pop("NO_AT_BRIDGE", None)
        self.env["GTK_A11Y"] = "atspi"
        settings = os.path.join(os.environ.get("HOME", "/tmp"), ".config", "gtk-3.0")
        os.makedirs(settings, exist_ok=True)
        with open(os.path.join(settings, "settings.ini"), "w") as fh:
            fh.write(GTK_SETTINGS)  # no blinking cursor, no animations: a still screen means "done drawing"
        with open(SERVICES_LOG, "ab") as logs:
            screen = f"{width}x{height}x24"
            self.xvfb = subprocess.Popen(
                ["Xvfb", DISPLAY, "-screen", "0", screen, "-nolisten", "tcp", "-ac"], stdout=logs, stderr=logs
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                self.x = xdisplay.Display(DISPLAY)
                break
            except Exception:
                if self.xvfb.poll() is not None or time.monotonic() > deadline:
                    raise DisplayDead("Xvfb did not start (see /tmp/prm-gui-services.log)") from None
                time.sleep(0.05)
        self.root = self.x.screen().root
        with open(SERVICES_LOG, "ab") as logs:
            self.bus = subprocess.Popen(
                ["dbus-daemon", "--session", "--nofork", "--address=unix:path=/tmp/prm-bus"],
                stdout=logs,
                stderr=logs,
            )
            self.wm = subprocess.Popen(["openbox"], env=self.env, stdout=logs, stderr=logs)
        os.environ.update(self.env)  # this server's own AT-SPI client needs the session bus too
        self._wait(lambda: self._prop(self.root, "_NET_SUPPORTING_WM_CHECK") is not None, 30, "openbox")
        self.apps = {}
        self.reported = set()
        self.elements = {}
        self.atspi = None

    # --- X helpers -------------------------------------------------------------------------------------
    def _wait(self, condition, timeout, what):
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise DisplayDead(f"{what} did not come up in {timeout} s")
            time.sleep(0.05)

    def _prop(self, window, name):
        atom = self.x.intern_atom(name)
        prop = window.get_full_property(atom, 0)
        return None if prop is None else prop.value

    def check_alive(self):
        if self.xvfb.poll() is not None:
            raise DisplayDead(f"the X server exited (code {self.xvfb.returncode})")
        try:
            self.x.sync()
        except Exception as exc:
            raise DisplayDead(f"the X server stopped answering: {type(exc).__name__}: {exc}") from None

    def windows(self):
        from Xlib import error as xerror

        active = self._prop(self.root, "_NET_ACTIVE_WINDOW")
        active_id = int(active[0]) if active is not None and len(active) else 0
        listed = []
        for wid in self._prop(self.root, "_NET_CLIENT_LIST") or []:
            window = self.x.create_resource_object("window", int(wid))
            try:
                raw = self._prop(window, "_NET_WM_NAME") or window.get_wm_name() or b""
                title = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
                geometry = window.get_geometry()
                origin = window.translate_coords(self.root, 0, 0)
            except xerror.XError:
                continue  # closed while listing
            box = [-origin.x, -origin.y, geometry.width, geometry.height]
            listed.append({"title": title, "box": box, "focused": int(wid) == active_id})
        return listed

    def capture(self):
        """The screen's raw pixels (BGRX bytes, `XGetImage`)."""
        from Xlib import X

        return self.root.get_image(0, 0, self.width, self.height, X.ZPixmap, 0xFFFFFFFF).data

    def settle(self, before):
        """The frame once the screen is still (see the module docstring); `before`: the frame before the input."""
        start = last_change = time.monotonic()
        frame, changed = before, False
        while True:
            still_for = SETTLE_QUIET_S if changed else SETTLE_REACTION_S
            time.sleep(max(0.0, min(SETTLE_POLL_S, last_change + still_for - time.monotonic())))
            current = self.capture()
            now = time.monotonic()
            if current != frame:
                frame, last_change, changed = current, now, True
            elif now - last_change >= still_for:
                return frame
            if now - start >= SETTLE_MAX_S:
                return frame

    # --- accessibility -------------------------------------------------------------------------------------
    def tree(self):
        """Lines `[eN] role 'name' @x,y,w,h (text)` of the visible AT-SPI elements; ids reset at each call."""
        self.elements = {}
        try:
            if self.atspi is None:
                import gi

                gi.require_version("Atspi", "2.0")
                from gi.repository import Atspi

                Atspi.init()
                Atspi.set_timeout(500, 5000)
                self.atspi = Atspi
            desktop = self.atspi.get_desktop(0)
        except Exception as exc:
            return [f"(accessibility tree unavailable: {type(exc).__name__}: {exc})"]
        lines = []
        for i in range(min(desktop.get_child_count(), 10)):
            try:
                app = desktop.get_child_at_index(i)
                if app is not None:
                    lines.append(f"application '{app.get_name()}'")
                    self._walk(app, 1, lines)
            except Exception as exc:
                lines.append(f"  (an application did not answer: {type(exc).__name__})")
        return lines

    def _walk(self, node, depth, lines):
        Atspi = self.atspi
        for index in range(min(node.get_child_count(), TREE_MAX_CHILDREN)):
            if len(self.elements) >= TREE_MAX_NODES:
                if not lines[-1].endswith("(more elements not shown)"):
                    lines.append("  (more elements not shown)")
                return
            child = node.get_child_at_index(index)
            if child is None:
                continue
            states = child.get_state_set()
            if not states.contains(Atspi.StateType.SHOWING):
                continue
            role, name = child.get_role_name(), child.get_name() or ""
            box = child.get_extents(Atspi.CoordType.SCREEN)
            interesting = name or role in ("text", "entry", "table cell", "push button", "menu item")
            if interesting and box.width > 0 and box.height > 0:
                element = f"e{len(self.elements) + 1}"
                self.elements[element] = (box.x + box.width // 2, box.y + box.height // 2)
                line = f"{'  ' * depth}[{element}] {role} {name!r} @{box.x},{box.y},{box.width},{box.height}"
                if role in ("text", "entry", "paragraph") and child.get_text_iface() is not None:
                    text = Atspi.Text.get_text(child, 0, TEXT_PREVIEW)
                    line += f" text={text!r}"
                if states.contains(Atspi.StateType.FOCUSED):
                    line += " focused"
                lines.append(line)
            self._walk(child, depth + 1, lines)

    # --- applications ------------------------------------------------------------------------------------
    def launch(self, name, command, title, timeout):
        """Start `command` and wait for a window titled `*title*`; an application that shows no window within
        LAUNCH_RETRY_S (a start-up race with the session services under load) is started once more."""
        deadline = time.monotonic() + timeout
        for attempt in (1, 2):
            with open(f"/tmp/prm-app-{len(self.apps)}-{attempt}.log", "ab") as log:
                self.apps[name] = subprocess.Popen(
                    ["/bin/sh", "-c", f"exec {command}"],
                    env=self.env,
                    stdout=log,
                    stderr=log,
                    cwd="/workspace",
                )
            retry_at = time.monotonic() + LAUNCH_RETRY_S if attempt == 1 else deadline
            while not any(title in w["title"] for w in self.windows()):
                if self.apps[name].poll() is not None:
                    return {"launch_error": f"{name} exited with code {self.apps[name].returncode} at start"}
                if time.monotonic() > min(retry_at, deadline):
                    break
                time.sleep(0.05)
            else:
                return {"launched": name, "attempts": attempt}
            if time.monotonic() > deadline:
                break
            with open(SERVICES_LOG, "ab") as log:
                log.write(f"{name}: no window after {LAUNCH_RETRY_S} s, starting it again\n".encode())
            self.apps[name].kill()
            self.apps[name].wait()
        seen = [w["title"] for w in self.windows()]
        return {"launch_error": f"no window titled '*{title}*' appeared in {timeout} s (windows: {seen})"}

    def notes(self):
        notes = []
        for name, proc in self.apps.items():
            if proc.poll() is not None and name not in self.reported:
                self.reported.add(name)
                notes.append(
                    f"The application '{name}' exited (code {proc.returncode}); its windows are gone and "
                    "anything it had not saved is lost."
                )
        return notes

    # --- actions -------------------------------------------------------------------------------------------
    def point(self, action):
        if action.get("id") is not None:
            if action["id"] not in self.elements:
                known = ", ".join(list(self.elements)[:8])
                raise Invalid(
                    f"unknown element id '{action['id']}' (ids of the last observation: {known} ...)"
                )
            return self.elements[action["id"]]
        return action["x"], action["y"]

    def key_combo(self, combo):
        from Xlib import XK

        parts = []
        for part in combo.split("+"):
            part = part.strip()
            if part.lower() in MODIFIERS:
                parts.append(MODIFIERS[part.lower()])
                continue
            for candidate in (part, KEY_ALIASES.get(part.lower(), ""), part.capitalize()):
                if candidate and XK.string_to_keysym(candidate):
                    parts.append(candidate)
                    break
            else:
                raise Invalid(
                    f"unknown key '{part}' in '{combo}' (X keysym names: a, Return, Tab, F5, Left, ...)"
                )
        return "+".join(parts)

    def pointer(self, x, y, button=None, clicks=1):
        """Move the pointer to x, y and click `button` `clicks` times (XTEST events, flushed to the server)."""
        from Xlib import X
        from Xlib.ext import xtest

        xtest.fake_input(self.x, X.MotionNotify, x=x, y=y)
        for _ in range(clicks if button else 0):
            xtest.fake_input(self.x, X.ButtonPress, button)
            xtest.fake_input(self.x, X.ButtonRelease, button)
        self.x.sync()

    def drag(self, action):
        from Xlib import X
        from Xlib.ext import xtest

        self.pointer(action["x"], action["y"])
        xtest.fake_input(self.x, X.ButtonPress, 1)
        self.x.sync()
        time.sleep(DRAG_PAUSE_S)
        self.pointer(action["to_x"], action["to_y"])
        time.sleep(DRAG_PAUSE_S)
        xtest.fake_input(self.x, X.ButtonRelease, 1)
        self.x.sync()

    def keyboard(self, arguments):
        done = subprocess.run(["xdotool", *arguments], env=self.env, capture_output=True, timeout=30)
        if done.returncode != 0:
            self.check_alive()
            raise Invalid(
                f"the input could not be sent: {done.stderr.decode(errors='replace').strip()[:300]}"
            )

    def act(self, action):
        op = action["op"]
        if op in ("click", "double_click", "right_click"):
            button = BUTTONS["right" if op == "right_click" else "left"]
            self.pointer(*self.point(action), button, clicks=2 if op == "double_click" else 1)
        elif op == "scroll":
            self.pointer(*self.point(action), SCROLL_BUTTONS[action["direction"]], clicks=action["amount"])
        elif op == "drag":
            self.drag(action)
        elif op == "type":
            self.keyboard(["type", "--delay", TYPE_DELAY_MS, "--", action["text"]])
        elif op == "key":
            self.keyboard(["key", "--delay", "0", "--", self.key_combo(action["combo"])])
        elif op == "wait":
            time.sleep(action["seconds"])

    def observe(self, tree=True, before=None):
        """The still screen (settled from the frame `before` an input; from now without one), windows, tree."""
        self.check_alive()
        frame = self.settle(self.capture() if before is None else before)
        return {
            "screenshot": base64.b64encode(zlib.compress(frame, 1)).decode(),
            "windows": self.windows(),
            "tree": self.tree() if tree else [],
            "notes": self.notes(),
        }

    def clipboard(self):
        done = subprocess.run(
            ["xclip", "-o", "-selection", "clipboard"], env=self.env, capture_output=True, timeout=10
        )
        return {"clipboard": done.stdout.decode(errors="replace") if done.returncode == 0 else None}

    def handle(self, request):
        op = request["op"]
        if op == "ping":
            self.check_alive()
            return {"ok": True}
        if op == "launch":
            return self.launch(request["name"], request["command"], request["title"], request["timeout"])
        if op == "observe":
            return self.observe(tree=request.get("tree", True))
        if op == "clipboard":
            return self.clipboard()
        if op == "act":
            self.check_alive()
            before = self.capture()
            self.act(request["action"])
            return self.observe(tree=request.get("tree", True), before=before)
        raise Invalid(f"unknown request {op!r}")


def serve(width, height):
    for path in (REQUESTS, REPLIES):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        os.mkfifo(path, 0o600)
    try:
        desktop = Desktop(width, height)
        failure = None
    except DisplayDead as exc:
        desktop, failure = None, str(exc)
    requests = os.fdopen(os.open(REQUESTS, os.O_RDWR), "rb")  # read-write: never EOF between clients
    for line in requests:
        try:
            if failure is not None:
                raise DisplayDead(failure)
            reply = desktop.handle(json.loads(line))
        except Invalid as exc:
            reply = {"invalid": str(exc)}
        except DisplayDead as exc:
            failure = str(exc)
            reply = {"infra": failure}
        except Exception as exc:
            reply = {"infra": f"the desktop server failed: {type(exc).__name__}: {exc}"}
        with open(REPLIES, "wb") as fh:
            fh.write(json.dumps(reply).encode() + b"\n")


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]))
