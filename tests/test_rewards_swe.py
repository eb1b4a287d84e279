"""The reward signals on `prm/swe-v0` (a real repository, local sandbox): gold hunks score up, breaks down."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

import prm  # noqa: F401
from prm.bench.rewards import SYNTAX_BREAK, TYPE_BREAK, append_action, edit_action

SCENARIO = "toolz-groupby-key"


@pytest.fixture(scope="module")
def env():
    wrapped = gym.make(
        "prm/swe-v0", scenario=SCENARIO, sandbox="local", rewards=["lsp", "progress:test_pass"]
    )
    yield wrapped
    wrapped.close()


def step(env, action):
    _, reward, _, _, info = env.step(action)
    assert info["infra_error"] is False, info["error"]
    return info["reward_components"]


def test_signals_on_good_and_harmful_swe_steps(env):
    env.reset(seed=0)
    gold = [json.loads(a) for a in env.unwrapped.oracle_actions() if json.loads(a)["tool"] == "edit"]
    path = gold[0]["args"]["path"]
    syntax = step(env, append_action(path, SYNTAX_BREAK))
    assert syntax["lsp"] < -1.0 and syntax["progress"] < 0  # unsafe + errors; tests no longer import
    step(env, edit_action(path, SYNTAX_BREAK, ""))
    typed = step(env, append_action(path, TYPE_BREAK))
    assert typed["lsp"] == -1.0 and typed["progress"] == 0.0
    step(env, edit_action(path, TYPE_BREAK, ""))
    view = step(env, json.dumps({"tool": "view", "args": {"path": path}}))
    assert view == {"lsp": 0.0, "progress": 0.0}
    good = [step(env, json.dumps(edit)) for edit in gold]
    assert sum(c["progress"] for c in good) > 0 and all(c["lsp"] >= 0 for c in good)


def test_the_oracle_detour_moves_lsp_down_then_up_before_solving(env):
    """What the demo (`--agent oracle:detour`) shows: a type error added then removed, tests unmoved."""
    from prm.agents import OracleAgent
    from prm.rollout import run_episode

    trajectory = run_episode(env, OracleAgent(detour=True), seed=0)
    components = [record.reward_components for record in trajectory.steps]
    assert [c["lsp"] for c in components[:2]] == [-1.0, 1.0]
    assert [c["progress"] for c in components[:2]] == [0.0, 0.0]
    assert components[2]["progress"] > 0 and trajectory.outcome.outcome["resolved"] is True


def test_the_benchmark_builds_every_kind_of_step_for_a_gold_file(env):
    from prm.bench.rewards import _harmful_steps

    env.reset(seed=0)
    gold = [json.loads(a) for a in env.unwrapped.oracle_actions() if json.loads(a)["tool"] == "edit"]
    kinds = {(category, label) for category, label, *_ in _harmful_steps(env, gold[0]["args"]["path"])}
    assert {("type in body", "harmful"), ("signature", "harmful"), ("logic", "harmful")} <= kinds
    assert {("comment", "neutral"), ("rename local", "neutral")} <= kinds


def test_benchmark_cells_count_dropped_steps_and_labels_that_did_not_hold():
    from prm.bench.rewards import LabelledStep, scores

    def labelled(label, category, lsp, **flags):
        return LabelledStep(scenario="s", label=label, category=category, components={"lsp": lsp}, **flags)

    steps = [
        labelled("good", "gold hunk", 1.0),
        labelled("harmful", "type", -1.0),
        labelled("harmful", "type", 0.0, infra_error=True),
        labelled("unverified", "type", 0.0),
    ]
    (cell,) = [row for row in scores(steps) if (row.signal, row.category) == ("lsp", "type")]
    assert (cell.auroc, cell.good, cell.harmful, cell.dropped, cell.unverified) == (1.0, 1, 1, 1, 1)
