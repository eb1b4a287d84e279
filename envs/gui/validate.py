"""The checks behind `prm scenario validate` for GUI scenarios: a file is sound when, on every repetition,

1. it loads (fields: `ScenarioError`) and the display and every application start (`apps`);
2. at the start state the outcome is 0 (some check fails before anyone acts: the task is not already done);
3. the scripted oracle, played through the agent's own tools, makes every step valid and reaches outcome 1.

Example:
    >>> from prm.envs.gui.validate import validate_scenario_file
    >>> validate_scenario_file("scenarios/gui/mousepad-greeting.yaml").ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prm.envs.gui.env import GuiEnv
from prm.errors import PrmError, ScenarioError
from prm.family import Validation


@dataclass
class GuiValidation(Validation):
    """The verdict on one GUI scenario file, with the oracle's step count."""

    oracle_steps: int = 0

    def checks(self) -> dict[str, str]:
        return {"oracle": f"{self.oracle_steps} steps, solved" if self.ok else "-"}


def _one_round(env: GuiEnv) -> int:
    env.reset(seed=0)
    source = env.scenario.id
    if env.grade()["reward"] == 1.0:
        raise ScenarioError(source, "checks", "every check already holds at the start state")
    info: dict = {}
    for index, action in enumerate(env.oracle_actions()):
        _, _, terminated, truncated, info = env.step(action)
        if info["infra_error"]:
            raise PrmError(f"{source}: infrastructure failure at oracle step {index}: {info['error']}")
        if info["error"]:
            raise ScenarioError(source, f"oracle.{index}", f"invalid action: {info['error']}")
        if terminated or truncated:
            break
    outcome = info.get("outcome") or {}
    if outcome.get("reward") != 1.0:
        raise ScenarioError(source, "oracle", f"does not solve the scenario: checks {outcome.get('checks')}")
    return len(env.history)


def validate_scenario_file(
    path: str | Path,
    sandbox: str = "docker",
    repeats: int = 1,
    on_stage: Callable[[str], None] | None = None,
) -> GuiValidation:
    """Runs the checks of the module docstring on one file (GUI scenarios need Docker: `sandbox` is only
    accepted for the common validator signature); never raises for a bad scenario."""
    result = GuiValidation(Path(path))
    with result.recording(on_stage) as run:
        run.stage("building or finding the GUI image")
        env = run.open(GuiEnv(path))
        result.scenario_id = env.scenario.id
        for _ in run.rounds(repeats, "start state, then the oracle"):
            result.oracle_steps = _one_round(env)
    return result
