"""The one place where prm-gym's environment families are listed (imported by `import prm`).

Each family package declares its parts in its `__init__` as `FAMILY` (`prm.family.Family`); this module
registers every family's env id with Gymnasium, and the CLI finds importers, validators and benchmarks here.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

from prm.family import Family

FAMILY_PACKAGES: tuple[str, ...] = (
    # a family adds its line here when it lands
    "prm.envs.data_analysis",
    "prm.envs.gui",
    "prm.envs.search_qa",
    "prm.envs.swe",
    "prm.envs.web",
)


@functools.cache
def families() -> dict[str, Family]:
    """Every family's declaration, by name (e.g. 'swe')."""
    declared = (importlib.import_module(package).FAMILY for package in FAMILY_PACKAGES)
    return {family.name: family for family in declared}


def family_of(env_id: str) -> Family:
    """The family behind a registered env id; an unknown id is a `KeyError` naming the known ones."""
    for family in families().values():
        if family.env_id == env_id:
            return family
    raise KeyError(f"unknown env '{env_id}'; registered: {', '.join(ENV_IDS)}")


ENV_IDS: dict[str, str] = {family.env_id: family.env for family in families().values()}
"""env id -> entry point (`"module:Class"`)."""


def env_class(env_id: str) -> type:
    """The env class behind a registered id (e.g. to list its scenarios without building an env)."""
    return family_of(env_id).env_class()


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
