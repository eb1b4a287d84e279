import pytest

from prm import load_trajectory
from prm.agents import AgentError, OracleAgent, ReplayAgent, ScriptedAgent
from prm.rollout import run_episode
from tests.guess_env import GuessEnv, call


def test_oracle_episode_is_recorded_and_replays_identically(tmp_path):
    seen = []
    trajectory = run_episode(
        GuessEnv(max_steps=5),
        OracleAgent(),
        seed=11,
        out=tmp_path / "oracle.jsonl",
        scenario_id="guess",
        reward_config=["gated:threshold=1"],
        on_step=seen.append,
    )
    assert trajectory.outcome.outcome["correct"] is True and trajectory.outcome.total_reward == 1.0
    assert seen == trajectory.steps
    loaded = load_trajectory(tmp_path / "oracle.jsonl")
    assert loaded == trajectory
    assert loaded.header.seed == 11 and loaded.header.reward_config == ["gated:threshold=1"]
    assert "reward_components" not in loaded.steps[0].info
    assert loaded.steps[0].reward_components == {"outcome": 1.0}

    replayed = run_episode(GuessEnv(max_steps=5), ReplayAgent(loaded), seed=11)
    assert replayed.steps == loaded.steps


def test_scripted_agent_that_runs_out_raises():
    with pytest.raises(AgentError, match="no action left after 1 steps"):
        run_episode(GuessEnv(max_steps=5), ScriptedAgent([call("hint")]), seed=0)


def test_infra_failure_is_recorded_in_the_outcome_line(tmp_path):
    trajectory = run_episode(
        GuessEnv(max_steps=5), ScriptedAgent([call("crash")]), seed=0, out=tmp_path / "t.jsonl"
    )
    assert trajectory.outcome.infra_error is True
    assert load_trajectory(tmp_path / "t.jsonl").outcome.infra_error is True
