"""Run one episode of an agent in an env, recording it as a `Trajectory` (and, if asked, a JSONL file).

>>> import gymnasium as gym, prm
>>> from prm.agents import OracleAgent
>>> env = gym.make("prm/search-qa-v0", scenario="5abf63f15542997ec76fd3ea")  # doctest: +SKIP
>>> trajectory = run_episode(env, OracleAgent(), seed=0, out="runs/episode.jsonl")  # doctest: +SKIP
>>> trajectory.outcome.total_reward  # doctest: +SKIP
1.0
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym

import prm
from prm.agents.base import Agent
from prm.models import OutcomeRecord, StepRecord, Trajectory, TrajectoryHeader
from prm.trajectory import TrajectoryWriter, to_jsonable


def make_header(
    env: gym.Env, *, scenario_id: str, seed: int | None, env_kwargs: dict[str, Any], reward_config: list[str]
) -> TrajectoryHeader:
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    return TrajectoryHeader(
        env_id=env_id,
        scenario_id=scenario_id,
        seed=seed,
        prm_version=prm.__version__,
        env_kwargs=to_jsonable(env_kwargs),
        reward_config=list(reward_config),
    )


def step_record(
    index: int, action: str, observation: Any, reward: float, terminated: bool, truncated: bool, info: dict
) -> StepRecord:
    """A `StepRecord` from what `env.step` returned; reward components move out of `info` to their own field."""
    info = to_jsonable(info)
    return StepRecord(
        index=index,
        action=action,
        observation=to_jsonable(observation),
        reward=float(reward),
        reward_components=info.pop("reward_components", {}),
        terminated=terminated,
        truncated=truncated,
        info=info,
    )


def run_episode(
    env: gym.Env,
    agent: Agent,
    *,
    seed: int | None = None,
    out: str | Path | None = None,
    scenario_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    reward_config: list[str] | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> Trajectory:
    """Resets `env`, lets `agent` act until the episode ends, and returns the trajectory.

    With `out`, each step is appended (and flushed) to a JSONL file as it happens. `on_step` is called with
    each `StepRecord` (e.g. to print step rewards). The header's `scenario_id`, `env_kwargs` and
    `reward_config` are what `prm replay` needs to re-create the env.
    """
    kwargs = dict(env_kwargs or {})
    header = make_header(
        env,
        scenario_id=scenario_id or str(kwargs.pop("scenario", "")),
        seed=seed,
        env_kwargs=kwargs,
        reward_config=reward_config or [],
    )
    observation, info = env.reset(seed=seed)
    header.initial_observation = to_jsonable(observation)
    header.reset_info = to_jsonable(info)
    trajectory = Trajectory(header=header)
    writer = TrajectoryWriter(out, header) if out is not None else None
    try:
        agent.reset(env, observation, info)
        terminated = truncated = False
        while not (terminated or truncated):
            action = agent.act(observation, info)
            observation, reward, terminated, truncated, info = env.step(action)
            record = step_record(
                len(trajectory.steps), action, observation, reward, terminated, truncated, info
            )
            trajectory.steps.append(record)
            if writer is not None:
                writer.write_step(record)
            if on_step is not None:
                on_step(record)
        trajectory.outcome = OutcomeRecord(
            outcome=to_jsonable(info.get("outcome")),
            total_reward=sum(trajectory.rewards),
            num_steps=len(trajectory.steps),
            infra_error=any(bool(step.info.get("infra_error")) for step in trajectory.steps),
        )
        if writer is not None:
            writer.write_outcome(trajectory.outcome)
    finally:
        if writer is not None:
            writer.close()
    return trajectory
