"""Tiny models play `prm/swe-v0` in Docker end to end: one fitted on search-QA (its calls explained as invalid,
the episode graded) and one fitted on the SWE oracle (valid calls, graded, resolved)."""

import pytest

import prm  # noqa: F401
from prm.agents import TransformersAgent
from prm.rollout import rollout
from tests.agent_fixtures import SWE_SCENARIO

pytestmark = pytest.mark.docker


def test_tiny_model_plays_swe_episodes_in_docker(tiny_models):
    trajectories = rollout(
        "prm/swe-v0",
        TransformersAgent(tiny_models.fitted, do_sample=False),
        scenarios="toolz-groupby-key",
        episodes=2,
        num_envs=2,
        env_kwargs={"max_steps": 2, "sandbox": "docker"},
        show_progress=False,
    )
    for trajectory in trajectories:
        assert not trajectory.outcome.infra_error and trajectory.outcome.num_steps == 2
        assert trajectory.outcome.outcome["resolved"] is False  # graded, not lost
        assert all(step.policy.completion_ids and step.observation for step in trajectory.steps)
        task = trajectory.steps[0].policy.messages[1]["content"]  # the bug report, cut to the tiny context
        assert (
            task[:60] == str(trajectory.header.initial_observation)[:60] and "cut to fit the context" in task
        )


def test_model_fitted_on_swe_oracle_plays_valid_calls_to_a_graded_end(tiny_swe_model):
    """The model writes the calls (no oracle at play time): an exact `edit`, then `submit`, graded in Docker."""
    (trajectory,) = rollout(
        "prm/swe-v0",
        TransformersAgent(tiny_swe_model, do_sample=False),
        scenarios=SWE_SCENARIO,
        env_kwargs={"max_steps": 4, "sandbox": "docker"},
        show_progress=False,
    )
    steps = trajectory.steps
    assert [step.info["error"] for step in steps] == [None] * len(steps)
    assert not any(step.reward_components.get("invalid_action") for step in steps)
    assert [step.info["tool"] for step in steps] == ["edit", "submit"]
    assert steps[0].info["changed_files"] == ["toolz/itertoolz.py"]
    assert steps[-1].terminated and not trajectory.outcome.infra_error
    assert trajectory.outcome.outcome["resolved"] is True and trajectory.outcome.total_reward == 1.0
    for step in steps:  # what a trainer needs, for the very tokens that made each call
        assert step.policy.completion == step.action
        assert len(step.policy.logprobs) == len(step.policy.completion_ids) > 0
