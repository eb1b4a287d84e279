"""A tiny model plays `prm/swe-v0` in Docker end to end: steps explained, graded, policy records kept."""

import pytest

import prm  # noqa: F401
from prm.agents import TransformersAgent
from prm.rollout import rollout

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
