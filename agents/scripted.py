"""Scripted agents: `OracleAgent` plays the env's own solution, `ReplayAgent` a recorded trajectory's actions.

>>> import gymnasium as gym, prm
>>> from prm.agents import OracleAgent
>>> from prm.rollout import run_episode
>>> env = gym.make("prm/search-qa-v0", scenario="5abf63f15542997ec76fd3ea")  # doctest: +SKIP
>>> run_episode(env, OracleAgent()).outcome.outcome["exact_match"]  # doctest: +SKIP
1.0
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import gymnasium as gym

from prm.agent_protocol import AgentError
from prm.models import Trajectory


class ScriptedAgent:
    """Plays a fixed list of actions in order; `AgentError` when asked for more than it has."""

    def __init__(self, actions: Sequence[str] = ()):
        self.actions = list(actions)
        self._next = 0

    def spawn(self) -> ScriptedAgent:
        """An agent for another env (batched rollouts): the same actions, its own position in them."""
        session = copy.copy(self)
        session.actions = list(self.actions)
        return session

    def reset(self, env: gym.Env, observation: Any, info: dict[str, Any]) -> None:
        self._next = 0

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        if self._next >= len(self.actions):
            raise AgentError(f"{type(self).__name__} has no action left after {len(self.actions)} steps")
        self._next += 1
        return self.actions[self._next - 1]


class OracleAgent(ScriptedAgent):
    """Solves the task with the env's own tools by playing `env.unwrapped.oracle_actions()` (a hook every
    family implements from its hidden material: e.g. the gold patch as `edit` calls, or the gold evidence and
    answer). The agent sees the actions, never the sandbox's hidden files.

    `detour=True` asks the family for a detour before the solution (`prm/swe-v0`: add a type error, then
    remove it), so that a demo shows step signals such as `lsp` moving; `prm run --agent oracle:detour`."""

    def __init__(self, detour: bool = False):
        super().__init__()
        self.detour = detour

    def reset(self, env: gym.Env, observation: Any, info: dict[str, Any]) -> None:
        oracle = env.unwrapped.oracle_actions
        self.actions = list(oracle(detour=True) if self.detour else oracle())
        super().reset(env, observation, info)


class ReplayAgent(ScriptedAgent):
    """Replays the actions of a recorded trajectory (see `prm.load_trajectory`)."""

    def __init__(self, trajectory: Trajectory):
        super().__init__(trajectory.actions)
