"""The checks behind `prm scenario validate` for `prm/data-analysis-v0` files: a scenario file is sound when it
loads (fields, table, solution), the gold answer scores 1 through the env's `answer` tool, and, where it has a
reference solution, the solution run as a `python` cell in the sandbox prints an answer line that scores 1
(on every repetition, each in a fresh sandbox).

Example:
    >>> from prm.envs.data_analysis.validate import validate_scenario_file
    >>> validate_scenario_file("scenarios/data_analysis/dabench-0.yaml").ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from prm.errors import ScenarioError
from prm.family import Validation

from .answers import AnswerFormatError, parse_answer, score_answer
from .env import DataAnalysisEnv
from .scenario import load_data_scenario

ANSWER_LINE_TIMEOUT_S = 120


@dataclasses.dataclass
class DataValidation(Validation):
    solution: str = "-"
    """'reproduces', 'none' (no solution: only the gold answer is checked) or '-' (not reached)."""

    def checks(self) -> dict[str, str]:
        return {"gold answer": f"{self.repeats} x 1.0" if self.repeats else "-", "solution": self.solution}


def solution_answer(env: DataAnalysisEnv, source: str) -> str:
    """Runs the scenario's reference solution in the env's kernel; returns the answer line it printed."""
    code = env.scenario.solution_code()
    call = json.dumps({"tool": "python", "args": {"code": code, "timeout": ANSWER_LINE_TIMEOUT_S}})
    observation, _, _, _, info = env.step(call)
    if info["reward_components"].get("exec_error"):
        raise ScenarioError(source, "solution", f"the solution failed: {observation[-800:]}")
    lines = [line for line in observation.splitlines() if line.lstrip().startswith("@")]
    if not lines:
        raise ScenarioError(source, "solution", f"printed no @name[value] line: {observation[-400:]}")
    try:
        parse_answer(lines[-1])
    except AnswerFormatError as err:
        raise ScenarioError(source, "solution", f"its answer line does not parse: {err}") from err
    return " ".join(lines)


def _one_round(env: DataAnalysisEnv, source: str) -> bool:
    """One fresh episode: the solution (if any) reproduces the label, then the gold answer scores 1."""
    env.reset(seed=0)
    scenario = env.scenario
    has_solution = scenario.solution is not None
    if has_solution:
        printed = solution_answer(env, source)
        reward, matched = score_answer(
            printed, scenario.answers, f"{scenario.constraints}\n{scenario.format}"
        )
        if reward != 1.0:
            raise ScenarioError(source, "solution", f"prints {printed!r}, gold {scenario.answers}: {matched}")
    _, _, terminated, _, info = env.step(json.dumps({"tool": "answer", "args": {"text": env.gold_answer()}}))
    if not terminated or info["outcome"]["reward"] != 1.0:
        raise ScenarioError(source, "answers", f"the gold answer does not score 1: {info.get('outcome')}")
    return has_solution


def validate_scenario_file(
    path: str | Path,
    *,
    sandbox: str = "docker",
    repeats: int = 1,
    on_stage: Callable[[str], None] | None = None,
) -> DataValidation:
    """Runs the checks of the module docstring on one file; never raises for a bad scenario."""
    result = DataValidation(Path(path))
    with result.recording(on_stage) as run:
        run.stage("loading scenario and table")
        scenario = load_data_scenario(path)
        result.scenario_id = scenario.id
        env = run.open(DataAnalysisEnv(scenario=scenario, sandbox=sandbox))
        for _ in run.rounds(repeats, "solution and gold answer"):
            has_solution = _one_round(env, str(path))
            result.solution = "reproduces" if has_solution else "none"
    return result
