"""The checks behind `prm scenario validate` for `prm/search-qa-v0` files: a scenario file is sound when, on
every repetition, it loads (fields, corpus), every gold title is a document of its corpus, and the oracle
(search and open each gold title, then answer the gold answer) gets exact match 1 and evidence recall 1.

Example:
    >>> from prm.envs.search_qa.validate import validate_scenario_file
    >>> validate_scenario_file("scenarios/search_qa/some-question.yaml").ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from prm.errors import ScenarioError
from prm.family import Validation

from .env import SearchQAEnv
from .scenarios import load_scenario_file


def _one_round(env: SearchQAEnv, source: str) -> dict:
    env.reset(seed=0)
    info: dict = {}
    for action in env.oracle_actions():
        _, _, terminated, truncated, info = env.step(action)
        if info["error"] or info["infra_error"]:
            raise ScenarioError(source, "supporting_facts", f"the oracle's step failed: {info['error']}")
        if terminated or truncated:
            break
    outcome = info.get("outcome") or {}
    if outcome.get("exact_match") != 1.0:
        raise ScenarioError(source, "answer", f"the gold answer does not score exact match 1: {outcome}")
    if outcome.get("evidence_recall") != 1.0:
        raise ScenarioError(source, "supporting_facts", f"the oracle does not see every fact: {outcome}")
    return outcome


def validate_scenario_file(
    path: str | Path,
    *,
    sandbox: str = "auto",
    repeats: int = 2,
    on_stage: Callable[[str], None] | None = None,
) -> Validation:
    """Runs the checks of the module docstring on one file; never raises for a bad scenario. `sandbox` is
    accepted for the common validator signature (this family needs none)."""
    result = Validation(Path(path))
    with result.recording(on_stage) as run:
        run.stage("loading scenario and corpus")
        scenario = load_scenario_file(path)
        result.scenario_id = scenario.id
        env = run.open(SearchQAEnv(scenario=scenario))
        for _ in run.rounds(repeats, "oracle episode"):
            _one_round(env, str(path))
    return result
