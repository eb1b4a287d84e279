"""The checks behind `prm scenario validate`: a scenario file is sound when, on every repetition,

1. it loads and its repository prepares (fields, package version, patches, test ids: `ScenarioError`);
2. at the start state (with `test_patch`), pytest runs every listed test, each `fail_to_pass` test fails and
   each `pass_to_pass` test passes;
3. the oracle (the gold patch played through the env's own `edit` tool, then `submit`) resolves it;
4. the per-test results are the same on each repetition.

A failed check is a `ScenarioError` naming the file, the field to fix and why.

Example:
    >>> from prm.envs.swe.validate import validate_scenario_file
    >>> validate_scenario_file("scenarios/swe/toolz-groupby-key.yaml").ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from prm.envs.swe.env import SweEnv
from prm.envs.swe.grading import TestRun
from prm.errors import ScenarioError
from prm.family import Validation


def _pass_count(statuses: dict[str, str]) -> str:
    if not statuses:
        return "-"
    passed = sum(status == "passed" for status in statuses.values())
    return f"{passed}/{len(statuses)} pass"


@dataclass
class ValidationResult(Validation):
    """The verdict on one SWE scenario file, with the per-test statuses at the start state and after the gold."""

    start: dict[str, str] = field(default_factory=dict)
    gold: dict[str, str] = field(default_factory=dict)

    def checks(self) -> dict[str, str]:
        return {"start": _pass_count(self.start), "gold": _pass_count(self.gold)}


def _check_start(env: SweEnv, run: TestRun) -> None:
    scenario, source = env.scenario, env.scenario.source
    for name in ("fail_to_pass", "pass_to_pass"):
        unknown = [test_id for test_id in getattr(scenario.tests, name) if test_id in run.not_found]
        if unknown:
            raise ScenarioError(
                source, f"tests.{name}", f"unknown test id {unknown[0]!r}: pytest found no such test"
            )
    for name in ("fail_to_pass", "pass_to_pass"):
        for test_id in getattr(scenario.tests, name):
            status = run.statuses[test_id]
            if status == "missing":
                raise ScenarioError(
                    source, f"tests.{name}", f"pytest did not run {test_id!r}:\n{run.output[-1500:]}"
                )
            if name == "fail_to_pass" and status == "passed":
                raise ScenarioError(source, "bug_patch", f"{test_id} already passes at the start state")
            if name == "pass_to_pass" and status != "passed":
                raise ScenarioError(source, "tests.pass_to_pass", f"{test_id} is {status} at the start state")


def _one_round(env: SweEnv) -> tuple[dict[str, str], dict[str, str]]:
    env.reset(seed=0)
    run = env.pytest_run(env.scenario.tests.all, apply_test_patch=True)
    _check_start(env, run)
    info: dict = {}
    for action in env.oracle_actions():
        _, _, terminated, truncated, info = env.step(action)
        if info["error"] or info["infra_error"]:
            field_name = "gold_patch" if not info["infra_error"] else "<sandbox>"
            raise ScenarioError(env.scenario.source, field_name, f"the oracle's step failed: {info['error']}")
        if terminated or truncated:
            break
    outcome = info.get("outcome") or {}
    if not outcome.get("resolved"):
        failing = {k: v for k, v in outcome.get("tests", {}).items() if v != "passed"}
        raise ScenarioError(env.scenario.source, "gold_patch", f"does not resolve the scenario: {failing}")
    return run.statuses, outcome["tests"]


def validate_scenario_file(
    path: str | Path,
    sandbox: str = "auto",
    repeats: int = 2,
    on_stage: Callable[[str], None] | None = None,
) -> ValidationResult:
    """Runs the checks of the module docstring on one file; never raises for a bad scenario."""
    result = ValidationResult(Path(path))
    with result.recording(on_stage) as run:
        run.stage("preparing repository and image")
        env = run.open(SweEnv(path, sandbox=sandbox))
        result.scenario_id = env.scenario.id
        for round_index in run.rounds(repeats, "start state, then gold patch"):
            start, gold = _one_round(env)
            if round_index == 0:
                result.start, result.gold = start, gold
            elif (start, gold) != (result.start, result.gold):
                raise ScenarioError(
                    env.scenario.source,
                    "tests",
                    f"results differ between repetitions: {result.start} vs {start}",
                )
    return result
