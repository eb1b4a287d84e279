"""The one place where prm-gym's environment ids are registered with Gymnasium (imported by `import prm`)."""

from __future__ import annotations

import importlib

import gymnasium as gym

ENV_IDS: dict[str, str] = {
    # env id -> entry point; a family adds its line here when it lands.
}


def env_class(env_id: str) -> type:
    """The env class behind a registered id (e.g. to list its scenarios without building an env)."""
    module, _, name = ENV_IDS[env_id].partition(":")
    return getattr(importlib.import_module(module), name)


def register_envs() -> None:
    for env_id, entry_point in ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, disable_env_checker=True)
