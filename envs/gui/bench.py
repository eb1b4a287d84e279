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

from prm.bench.latency import LatencyRow, timed
from prm.envs.gui.env import GuiEnv
from prm.sandboxes.docker import DockerSandbox

STEP_TARGET_S = 0.150


def run_gui_bench(
    scenario: str = "mousepad-greeting", resets: int = 3, steps: int = 30, accessibility: bool = True
) -> list[LatencyRow]:
    """Measures the figures of the module docstring with a real desktop in Docker; returns one row each."""
    env = GuiEnv(scenario, max_steps=4 * steps + 10, accessibility=accessibility)
    try:
        bare = timed(lambda: DockerSandbox(env.image, limits=env.limits).close(), resets)
        rows = [
            LatencyRow(
                "reset (display + apps up)",
                timed(lambda: env.reset(seed=0), resets),
                "DockerSandbox open + close",
                bare,
            )
        ]
        screenshot = timed(lambda: env.desktop.observe(tree=False), steps)
        click = json.dumps({"tool": "click", "args": {"x": 400, "y": 300}})
        rows.append(
            LatencyRow(
                "step click",
                timed(lambda: env.step(click), steps),
                "screenshot only",
                screenshot,
                target_s=STEP_TARGET_S,
            )
        )
        typing = json.dumps({"tool": "type", "args": {"text": "ab"}})
        rows.append(
            LatencyRow(
                "step type 'ab'",
                timed(lambda: env.step(typing), steps),
                "screenshot only",
                screenshot,
                target_s=STEP_TARGET_S,
            )
        )
    finally:
        env.close()
    return rows
