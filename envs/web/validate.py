"""The checks behind `prm scenario validate` for `prm/web-v0` files: a scenario file is sound when it loads,
its page is served, on every repetition (seeds 0, 1, ...) the oracle solves it with no invalid action and
outcome reward 1, and an episode that only waits (noop to the step budget) does not score.

A MiniWoB++ task without a scripted solver is checked for a live task instead: its page starts, its goal is
not empty, and waiting out the budget scores 0.

Example:
    >>> from prm.envs.web.validate import validate_scenario_file
    >>> validate_scenario_file("scenarios/web/app.todo-update.yaml").ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prm.errors import PrmError, ScenarioError
from prm.family import Validation

from .env import WebEnv
from .oracle import MINIWOB_SOLVERS, solve

NOOP = '{"tool": "noop", "args": {}}'


@dataclass
class WebValidation(Validation):
    oracle: str = "-"
    idle: str = "-"

    def checks(self) -> dict[str, str]:
        return {"oracle": self.oracle, "idle": self.idle}


def _idle_scores_zero(env: WebEnv, source: str) -> None:
    observation, _ = env.reset(seed=0)
    if "Goal: " not in observation or observation.startswith("Goal: \n"):
        raise ScenarioError(source, "miniwob", "the task shows no goal (its page did not start)")
    info: dict = {}
    for _ in range(3):
        _, _, terminated, truncated, info = env.step(NOOP)
        if terminated or truncated:
            break
    if info.get("infra_error"):
        raise ScenarioError(source, "<page>", f"infrastructure failure while idle: {info['error']}")
    if (info.get("outcome") or {}).get("reward", 0.0) > 0 or info["reward_components"].get("outcome", 0) > 0:
        raise ScenarioError(source, "success", "an episode that only waits already scores")


def validate_scenario_file(
    path: str | Path,
    *,
    sandbox: str = "auto",
    repeats: int = 2,
    on_stage: Callable[[str], None] | None = None,
) -> WebValidation:
    """Runs the checks of the module docstring on one file; never raises for a bad scenario. `sandbox` is
    accepted for the common validator signature (pages run in the shared browser)."""
    result = WebValidation(Path(path))
    with result.recording(on_stage, errors=(PrmError, LookupError)) as run:
        run.stage("loading scenario")
        env = run.open(WebEnv(str(path), max_steps=3))
        result.scenario_id = env.scenario.id
        run.stage("idle episode")
        _idle_scores_zero(env, str(path))
        result.idle = "0"
        env.max_steps = None
        if env.scenario.miniwob is not None and env.scenario.miniwob not in MINIWOB_SOLVERS:
            result.oracle = "no solver"
            return result
        for round_index in run.rounds(repeats, "oracle episode"):
            info = solve(env, seed=round_index)
            if info.get("infra_error"):
                raise ScenarioError(str(path), "<page>", f"infrastructure failure: {info['error']}")
            if any(h[1].startswith("Invalid action") for h in env.history):
                raise ScenarioError(str(path), "oracle", "an oracle step was refused as invalid")
            if (info.get("outcome") or {}).get("reward") != 1.0:
                raise ScenarioError(
                    str(path), "oracle", f"the oracle does not solve it: {info.get('outcome')}"
                )
        result.oracle = f"{result.repeats}/{repeats}"
    return result
