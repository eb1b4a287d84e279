"""`prm/gui-v0`: operate real X11 desktop applications (a text editor, a spreadsheet, a calculator) under Xvfb
in a Docker sandbox; graded on what the applications really produced.

An episode: `reset` opens a sandbox of the GUI image (`prm.envs.gui.desktop.gui_image`), places the scenario's
files in `/workspace`, starts the display and the scenario's applications, and returns the instruction, the
tool manual and the first observation. Each step is one tool call (`prm.envs.gui.tools`): click, double_click,
right_click, drag, type, key, scroll, wait, done(answer).

Observation: `{"text": str, "screenshot": uint8 array (600, 800, 3)}`; the text lists the windows (title,
geometry, focus), the accessibility tree (AT-SPI; element ids for `click(id=...)`) and notes, e.g. that an
application exited (an explanatory observation, not an error). A dead display is an infrastructure failure
(`info["infra_error"]`); the next `reset` starts a new sandbox.

Outcome: `info["outcome"] = {"reward": 1.0 | 0.0, "checks": [bool, ...], "answer": str | None}`, every check
of the scenario on real output (saved files, cells read by Gnumeric's `ssconvert`, the clipboard, the answer).
Step signals: `progress:checklist` reads the scenario's `subgoals` (hooks `scenario`, `sandbox`, `history`);
`progress:screen_judge` (GUI-Shepherd style) has a model judge each step from the screens before and after
(hooks `screenshot()`, `screen_text()`).

`fork()` copies the workspace into a new sandbox and starts the applications again on the copied files: what
lives in files survives; unsaved in-memory state (typed text not saved, the clipboard, window positions) does not.

Example:
    >>> import gymnasium as gym, prm
    >>> env = gym.make("prm/gui-v0", scenario="mousepad-greeting")  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> obs["screenshot"].shape  # doctest: +SKIP
    (600, 800, 3)
    >>> for action in env.unwrapped.oracle_actions():  # doctest: +SKIP
    ...     obs, reward, terminated, truncated, info = env.step(action)
    >>> info["outcome"]["reward"]  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import copy
import csv
import io
import json
import shlex
from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces

from prm.env import PrmEnv
from prm.envs.gui.desktop import HEIGHT, WIDTH, Desktop, gui_image
from prm.envs.gui.scenario import CELL, FAMILY, Check, GuiScenario, load_gui_scenario
from prm.envs.gui.tools import GuiTools
from prm.errors import SandboxError
from prm.sandboxes.base import Sandbox, SandboxLimits
from prm.sandboxes.docker import DockerSandbox
from prm.spaces import Unicode
from prm.tools import Tool

GUI_LIMITS = SandboxLimits(memory_mb=2048, pids=512, cpus=2.0)


class GuiEnv(PrmEnv):
    """Desktop applications under Xvfb (see the module docstring).

    Args:
        scenario: a scenario id from the packaged pack, a scenario file, or a `GuiScenario`.
        max_steps: step budget; the scenario's `max_steps` by default.
        reward_weights: weights of reward components (default: the outcome only).
        accessibility: include the AT-SPI tree in every observation (off: faster steps, ids unavailable).
        render_mode: None or "ansi".
    """

    scenario_family = FAMILY

    def __init__(
        self,
        scenario: str | Path | GuiScenario,
        *,
        max_steps: int | None = None,
        reward_weights: dict[str, float] | None = None,
        accessibility: bool = True,
        limits: SandboxLimits | dict | None = None,
        render_mode: str | None = None,
    ):
        super().__init__(max_steps=max_steps, reward_weights=reward_weights, render_mode=render_mode)
        self.scenario: GuiScenario = (
            scenario if isinstance(scenario, GuiScenario) else load_gui_scenario(scenario)
        )
        self.observation_space = spaces.Dict(
            {"text": Unicode(), "screenshot": spaces.Box(0, 255, (HEIGHT, WIDTH, 3), np.uint8)}
        )
        self.accessibility = accessibility
        self.limits = SandboxLimits.model_validate(limits or GUI_LIMITS.model_dump())
        self.image = gui_image()
        self.sandbox: Sandbox | None = None
        self.desktop: Desktop | None = None
        self._tool_set = GuiTools(lambda: self.desktop, WIDTH, HEIGHT, accessibility)
        self._screen = np.zeros((HEIGHT, WIDTH, 3), np.uint8)

    # --- PrmEnv ----------------------------------------------------------------------------------------
    def _step_budget(self) -> int:
        return self.max_steps or self.scenario.max_steps

    def _start(self, seed: int | None, options: dict[str, Any]) -> str:
        self._close_sandbox()
        self.sandbox = DockerSandbox(self.image, limits=self.limits)
        for path, text in self.scenario.files.items():
            self.sandbox.write_file(path, text)
        self._boot()
        return (
            f"You operate a Linux desktop ({WIDTH}x{HEIGHT} pixels) with the mouse and keyboard. Files are in "
            f"/workspace.\n\nTask: {self.scenario.instruction.strip()}\n\nWhen the task is complete, call done "
            "(with answer= if the task asks a question)."
        )

    def _boot(self) -> None:
        """Starts the display and the scenario's applications in `self.sandbox`; observes the first screen."""
        self.desktop = Desktop(self.sandbox)
        for app in self.scenario.apps:
            self.desktop.launch(app.name, app.command, app.title, app.timeout_s)
        self._tool_set.answer = None
        self._tool_set.last = self.desktop.observe(tree=self.accessibility)

    def _tools(self) -> list[Tool]:
        return self._tool_set.tools()

    def _grade(self) -> dict[str, Any]:
        results = [self._check(check) for check in self.scenario.checks]
        return {"reward": float(all(results)), "checks": results, "answer": self._tool_set.answer}

    def _check(self, check: Check) -> bool:
        if check.kind == "answer":
            return check.matches(self._tool_set.answer)
        if check.kind == "clipboard":
            return check.matches(self.desktop.clipboard())
        if check.kind == "cell":
            return check.matches(self.read_cell(check.file, check.cell))
        try:
            return check.matches(self.sandbox.read_file(check.file).decode("utf-8", errors="replace"))
        except FileNotFoundError:
            return False

    # --- the gymnasium API: observations are {"text", "screenshot"} ---------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict, dict]:
        text, info = super().reset(seed=seed, options=options)
        text = f"{text}\n\n{self._tool_set.last.text()}"
        self._last_observation = text
        info |= {"scenario_id": self.scenario.id, "image": self.image}
        return self._observation(text), info

    def step(self, action: str) -> tuple[dict, float, bool, bool, dict[str, Any]]:
        text, reward, terminated, truncated, info = super().step(action)
        return self._observation(text), reward, terminated, truncated, info

    def _observation(self, text: str) -> dict[str, Any]:
        if self._tool_set.last is not None:
            self._screen = self._tool_set.last.screenshot
        return {"text": text, "screenshot": self._screen.copy()}  # never shared between observations

    # --- hooks -----------------------------------------------------------------------------------------
    def screenshot(self) -> np.ndarray:
        """The current screen (a copy, RGB `(HEIGHT, WIDTH, 3)`), as the last observation showed it."""
        return self._screen.copy()

    def screen_text(self) -> str:
        """The window list and accessibility tree of the current screen, as the last observation wrote them."""
        return self._tool_set.last.text() if self._tool_set.last is not None else ""

    def grade(self) -> dict[str, Any]:
        """The outcome of the current state (`{"reward", "checks", "answer"}`), e.g. to check that a scenario
        is not solved at its start; the agent's state is untouched."""
        return self._grade()

    def read_cell(self, file: str, cell: str) -> str | None:
        """The value of `cell` (e.g. B4) of the spreadsheet `file` in the workspace, as Gnumeric's `ssconvert`
        reads it (None when the file is missing or unreadable). Runs in a fork: the agent's state is untouched."""
        match = CELL.match(cell)
        column = sum((ord(c) - 64) * 26**i for i, c in enumerate(reversed(match["column"]))) - 1
        row = int(match["row"]) - 1
        path = shlex.quote(f"{self.sandbox.workspace}/{file}")
        command = f"ssconvert --export-type=Gnumeric_stf:stf_csv {path} fd://1 2>/dev/null"
        with self.sandbox.fork() as fork:
            result = fork.exec(command, timeout=60)
        if not result.ok:
            return None
        rows = list(csv.reader(io.StringIO(result.stdout)))
        return rows[row][column] if row < len(rows) and column < len(rows[row]) else ""

    def oracle_actions(self) -> list[str]:
        """The scenario's scripted solution as tool calls (hidden material: for oracles and validation)."""
        return [json.dumps(call.model_dump()) for call in self.scenario.oracle]

    def fork(self) -> GuiEnv:
        """A new env on a copy of the workspace with the applications started again (see the module docstring)."""
        if self.sandbox is None:
            raise RuntimeError("call reset() before fork()")
        clone = copy.copy(self)
        clone.sandbox = self.sandbox.fork()
        clone.history = list(self.history)
        clone.reward_weights = dict(self.reward_weights)
        clone._np_random = copy.deepcopy(self._np_random)
        clone._tool_set = GuiTools(lambda: clone.desktop, WIDTH, HEIGHT, self.accessibility)
        clone._tool_index = {tool.name: tool for tool in clone._tools()}
        try:
            clone._boot()
        except SandboxError:
            clone.sandbox.close()
            raise
        return clone

    def close(self) -> None:
        self._close_sandbox()
        super().close()

    def _close_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = self.desktop = None
