"""Gated accumulation, cumulative clipping, min-form credit and offline re-scoring of recorded trajectories."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prm import load_trajectory
from prm.agents import OracleAgent, ScriptedAgent
from prm.cli import app
from prm.rewards import apply_rewards
from prm.rewards.clip import clip_cumulative
from prm.rewards.gated import gate_rewards
from prm.rewards.minform import DeltaSignalWarning, min_form
from prm.rewards.rescore import rescore
from prm.rollout import run_episode
from tests.reward_env import FILES, PackageEnv, action

LEGACY = "pkg/legacy.py"
LEGACY_TEXT = "def a() -> int:\n    return 'x'\n\n\ndef b() -> str:\n    return 1\n"
# Farming: "fixes" the diagnostics of legacy code (by deleting it) to harvest LSP rewards, never fixes the bug.
FARMING = [action("write", path=LEGACY, text="\n"), action("view", path=LEGACY), action("submit")]
SIGNALS = ["lsp", "progress:test_pass"]
ORIGINAL = FILES["pkg/calc.py"]
BROKEN = ORIGINAL.replace("return 2 * x", "return 2 * x + 'a'")  # a type error that breaks double()


def episode(agent, specs, path=None):
    env = apply_rewards(PackageEnv(files={LEGACY: LEGACY_TEXT}), specs)
    try:
        return run_episode(env, agent, seed=0, out=path, reward_config=specs)
    finally:
        env.close()


def test_pure_aggregators():
    assert gate_rewards([0.5, 1.0], outcome=None, threshold=0.0) == [0.0, 0.0]
    assert gate_rewards([0.5, 1.0], outcome=0.0, threshold=0.0) == [0.5, 1.0]
    assert sum(clip_cumulative([1.0] * 10, low=-2.0, high=2.0)) == 2.0
    returns, rewards = min_form([1.0, 0.2, 0.5])
    assert returns == [0.2, 0.2, 0.5] and [sum(rewards[t:]) for t in range(3)] == pytest.approx(returns)


def test_gating_pays_a_farming_agent_no_more_than_the_outcome():
    farmed = episode(ScriptedAgent(FARMING), SIGNALS)
    assert farmed.steps[0].reward_components["lsp"] == 2.0 and farmed.outcome.outcome["reward"] == 0.0
    assert farmed.outcome.total_reward == 2.0  # summed step rewards pay the farmer
    gated = episode(ScriptedAgent(FARMING), [*SIGNALS, "gated:threshold=1"])
    assert [step.reward for step in gated.steps] == [0.0, 0.0, 0.0]  # = outcome-only return
    assert gated.steps[-1].info["gate"]["open"] is False and gated.steps[-1].info["step_rewards"] == [0.0] * 3


def test_gating_releases_the_step_rewards_of_a_successful_episode():
    ungated = episode(OracleAgent(), SIGNALS)
    gated = episode(OracleAgent(), [*SIGNALS, "gated:threshold=1", "minform"])
    assert gated.outcome.outcome["reward"] == 1.0
    assert [step.reward for step in gated.steps[:-1]] == [0.0] * (len(gated.steps) - 1)
    assert gated.outcome.total_reward == pytest.approx(ungated.outcome.total_reward)
    last = gated.steps[-1].info
    assert last["step_rewards"] == [step.info["process_reward"] for step in ungated.steps]
    assert last["min_form_returns"] == min_form(last["step_rewards"])[0]


def test_clip_bounds_the_total_process_reward():
    clipped = episode(ScriptedAgent(FARMING), [*SIGNALS, "clip:max=0.5"])
    assert [step.info["process_reward"] for step in clipped.steps] == [0.5, 0.0, 0.0]


def test_rescore_offline_matches_an_online_run(tmp_path):
    path = tmp_path / "farm.jsonl"
    episode(ScriptedAgent(FARMING), SIGNALS, path)
    specs = ["lsp:w_err=0.5", "progress:test_pass:weight=2", "gated:threshold=1", "minform"]
    offline = rescore(load_trajectory(path), specs)
    online = episode(ScriptedAgent(FARMING), specs)
    assert [s.reward for s in offline.steps] == pytest.approx([s.reward for s in online.steps])
    assert [s.reward_components for s in offline.steps] == [s.reward_components for s in online.steps]
    assert offline.steps[-1].info["gate"] == online.steps[-1].info["gate"]
    ungated = rescore(load_trajectory(path), ["lsp:w_err=0.5"])
    assert ungated.steps[0].reward == 1.0 and "progress" not in ungated.steps[0].reward_components


def test_rescore_cli_writes_the_rescored_trajectory(tmp_path):
    path, out = tmp_path / "farm.jsonl", tmp_path / "rescored.jsonl"
    episode(ScriptedAgent(FARMING), SIGNALS, path)
    result = CliRunner().invoke(
        app, ["rescore", str(path), "--reward", "lsp", "--reward", "gated", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "return: +2.000 -> +0.000" in result.output
    assert load_trajectory(out).header.reward_config == ["lsp", "gated"]
    bad = CliRunner().invoke(app, ["rescore", str(path), "--reward", "lsp:nope=1"])
    assert bad.exit_code == 2 and "unknown parameter 'nope'" in bad.output


def test_rescore_replays_when_the_stored_data_do_not_suffice(tmp_path):
    import gymnasium as gym

    path = tmp_path / "qa.jsonl"
    env = gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62")
    recorded = run_episode(env, OracleAgent(), seed=0, out=path, scenario_id="5a8ce55f554299441c6b9f62")
    assert all("info_gain" not in step.reward_components for step in recorded.steps)
    rescored = rescore(load_trajectory(path), ["info_gain:redundancy=0"])
    gains = [step.reward_components["info_gain"] for step in rescored.steps]
    assert sum(gains) == pytest.approx(1.0) and rescored.header.reward_config == [
        "info_gain:evidence:redundancy=0.0"
    ]
    assert [step.action for step in rescored.steps] == recorded.actions


def test_clipping_pays_nothing_for_a_cycle_back_to_the_same_state():
    assert sum(clip_cumulative([-5.0, 5.0] * 5, low=-1.0, high=1.0)) == 0.0
    assert clip_cumulative([5.0, -5.0, 5.0], low=-1.0, high=1.0) == [1.0, -1.0, 1.0]
    # a break (-1 lsp, -0.5 progress) and its repair, twice: the clipped total comes back to 0
    cycle = [
        action("write", path="pkg/calc.py", text=BROKEN),
        action("write", path="pkg/calc.py", text=ORIGINAL),
    ] * 2
    clipped = episode(ScriptedAgent([*cycle, action("submit")]), [*SIGNALS, "clip:max=0.5"])
    assert [step.info["process_reward"] for step in clipped.steps] == [-0.5, 0.5, -0.5, 0.5, 0.0]


def test_min_form_over_delta_signals_warns_and_why():
    returns, _ = min_form([0.0, 0.0, 1.0, 0.0])  # a fixing step followed by a no-op
    assert returns == [0.0, 0.0, 0.0, 0.0]  # its credit is gone: min-form is for step scores, not deltas
    with pytest.warns(DeltaSignalWarning, match="delta signal\\(s\\) lsp, progress"):
        episode(OracleAgent(), [*SIGNALS, "minform"])
    with pytest.warns(DeltaSignalWarning):
        rescore(episode(OracleAgent(), SIGNALS), ["lsp", "minform"])
