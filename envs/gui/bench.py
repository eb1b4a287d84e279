"""`prm bench gui`: `prm/gui-v0` reset and step latency, each next to a baseline from the same run.

- `reset` (new sandbox, display, window manager, the scenario's applications up, first observation) vs a bare
  `DockerSandbox` open + close of the same image;
- `step click` and `step type` (the input, waiting until the screen is still, the new screenshot, window list
  and AT-SPI tree) vs a bare request for the screenshot alone (`Desktop.observe(tree=False)`, no input);
  target step p50 < 150 ms.

Example:
    >>> from prm.envs.gui.bench import run_gui_bench
    >>> rows = run_gui_bench(resets=3, steps=20)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

from prm.envs.gui.env import GuiEnv
from prm.sandboxes.docker import DockerSandbox

STEP_TARGET_S = 0.150


@dataclass(frozen=True)
class LatencyRow:
    """p50/p95 seconds of one measurement, with the p50 of its same-run baseline and an optional target."""

    name: str
    times: list[float]
    baseline_name: str
    baseline: list[float]
    target_s: float | None = None

    @property
    def p50(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def ratio(self) -> float:
        return self.p50 / statistics.median(self.baseline)

    @property
    def met(self) -> bool | None:
        return None if self.target_s is None else self.p50 < self.target_s


def _times(fn: Callable[[], object], n: int) -> list[float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def run_gui_bench(
    scenario: str = "mousepad-greeting", resets: int = 3, steps: int = 30, accessibility: bool = True
) -> list[LatencyRow]:
    """Measures the figures of the module docstring with a real desktop in Docker; returns one row each."""
    env = GuiEnv(scenario, max_steps=4 * steps + 10, accessibility=accessibility)
    try:
        bare = _times(lambda: DockerSandbox(env.image, limits=env.limits).close(), resets)
        rows = [
            LatencyRow(
                "reset (display + apps up)",
                _times(lambda: env.reset(seed=0), resets),
                "DockerSandbox open + close",
                bare,
            )
        ]
        screenshot = _times(lambda: env.desktop.observe(tree=False), steps)
        click = json.dumps({"tool": "click", "args": {"x": 400, "y": 300}})
        rows.append(
            LatencyRow(
                "step click",
                _times(lambda: env.step(click), steps),
                "screenshot only",
                screenshot,
                STEP_TARGET_S,
            )
        )
        typing = json.dumps({"tool": "type", "args": {"text": "ab"}})
        rows.append(
            LatencyRow(
                "step type 'ab'",
                _times(lambda: env.step(typing), steps),
                "screenshot only",
                screenshot,
                STEP_TARGET_S,
            )
        )
    finally:
        env.close()
    return rows
