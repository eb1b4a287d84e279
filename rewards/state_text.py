"""The text of an agent's state, as value models and scorers read it: the first observation, then each step.

The same text is built from a live env (`state_text(env)`, through the hooks `task`, `tools` and `history`)
and from a recorded trajectory (`trajectory_states(trajectory)`, one text per state s_0..s_T), so a model
fitted on trajectories scores live envs on the same footing.

>>> from prm.models import StepRecord, Trajectory, TrajectoryHeader
>>> t = Trajectory(header=TrajectoryHeader(env_id="e", scenario_id="s", prm_version="0", initial_observation="Q?"),
...                steps=[StepRecord(index=0, action="a", observation="o", reward=0.0)])
>>> trajectory_states(t)
['Q?', 'Q?\\n\\nAction: a\\nObservation: o']
"""

from __future__ import annotations

from collections.abc import Iterable

import gymnasium as gym

from prm.models import Trajectory
from prm.tools import describe_tools


def render(first_observation: str, history: Iterable[tuple[str, str]]) -> str:
    parts = [first_observation]
    parts += [f"Action: {action}\nObservation: {observation}" for action, observation in history]
    return "\n\n".join(parts)


def first_observation(env: gym.Env) -> str:
    """The episode's first observation, rebuilt as `PrmEnv.reset` wrote it (the task, then the tool manual)."""
    base = env.unwrapped
    return f"{base.task}\n\n{describe_tools(base.tools)}"


def state_text(env: gym.Env) -> str:
    """The text of the env's current state: the first observation, then each step."""
    return render(first_observation(env), env.unwrapped.history)


def trajectory_states(trajectory: Trajectory) -> list[str]:
    """The text of every state of a recorded episode, s_0 (after reset) to s_T (after the last step)."""
    first = str(trajectory.header.initial_observation)
    history = [(step.action, str(step.observation)) for step in trajectory.steps]
    return [render(first, history[:t]) for t in range(len(history) + 1)]
