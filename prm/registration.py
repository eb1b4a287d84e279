"""The one place where prm-gym's environment ids are registered with Gymnasium (imported by `import prm`)."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

ENV_IDS: dict[str, str] = {
    # env id -> entry point; a family adds its line here when it lands.
    "prm/search-qa-v0": "prm.envs.search_qa.env:SearchQAEnv",
    "prm/swe-v0": "prm.envs.swe.env:SweEnv",
}


def env_class(env_id: str) -> type:
    """The env class behind a registered id (e.g. to list its scenarios without building an env)."""
    module, _, name = ENV_IDS[env_id].partition(":")
    return getattr(importlib.import_module(module), name)


def make_with_rewards(entry_point: str, *, rewards: str | Sequence[str] = (), **kwargs: Any) -> gym.Env:
    """Builds the env at `entry_point`, wrapped with the reward specs in `rewards` (`prm.rewards.spec`):
    this is what makes `gym.make("prm/...", rewards=["lsp", "gated:threshold=1"])` (or one spec, `rewards="lsp"`)
    work."""
    env = load_env_creator(entry_point)(**kwargs)
    if not rewards:
        return env
    from prm.rewards.spec import apply_rewards

    try:
        return apply_rewards(env, rewards)
    except BaseException:
        env.close()
        raise


def register_envs() -> None:
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(
                id=env_id,
                entry_point=functools.partial(make_with_rewards, entry_point),
                disable_env_checker=True,
            )
