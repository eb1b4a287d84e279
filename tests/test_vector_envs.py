"""Many copies at once with Gymnasium's own vector envs (text observations need shared_memory=False)."""

import json

import gymnasium as gym
import numpy as np

import prm  # noqa: F401


def test_async_vector_env_steps_copies_in_subprocesses_with_reward_specs():
    envs = gym.make_vec(
        "prm/search-qa-v0",
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"shared_memory": False},
        scenario="5a8ce55f554299441c6b9f62",
        mode="distractor",
        rewards=["info_gain"],
    )
    try:
        observations, _ = envs.reset(seed=0)
        assert len(observations) == 2 and all(obs.startswith("Answer the question") for obs in observations)
        search = json.dumps({"tool": "search", "args": {"query": "Tinted Windows band", "k": 3}})
        bad = "not a tool call"
        observations, rewards, terminated, truncated, info = envs.step([search, bad])
        assert "Tinted Windows" in observations[0] and "Invalid action" in observations[1]
        assert rewards[0] > 0 and rewards[1] == 0
        assert info["reward_components"]["info_gain"][0] > 0
        assert list(info["error"]) == [None, info["error"][1]] and "no JSON object" in info["error"][1]
        assert not np.any(terminated) and not np.any(truncated)
    finally:
        envs.close()
