"""The `Agent` protocol: anything that turns an observation into an action string; and the two errors the
rollout engine (`prm.rollout`) tells apart: `AgentError` (the agent cannot act) and `PolicyUnavailable` (the
model back end failed: an infrastructure failure of the episode, never a zero reward).

They live in core so that `prm.rollout` needs nothing of `prm.agents` (dependencies point agents -> core);
`prm.agents` exports them with its back ends.

`reset` is called once per episode with the env (scripted agents may read its documented hooks, e.g.
`oracle_actions()`; model agents ignore it), then `act` once per step.

>>> class Echo:
...     def reset(self, env, observation, info): pass
...     def act(self, observation, info): return '{"tool": "submit", "args": {}}'
>>> isinstance(Echo(), Agent)
True
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import gymnasium as gym


class AgentError(RuntimeError):
    """The agent cannot produce an action (e.g. a scripted agent ran out of actions)."""


class PolicyUnavailable(AgentError):
    """The model back end failed (connection refused, 5xx after retries, an unreadable response): the
    episode is lost to the infrastructure, not to the agent's choices. `status`: the HTTP status, if any."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


@runtime_checkable
class Agent(Protocol):
    def reset(self, env: gym.Env, observation: Any, info: dict[str, Any]) -> None: ...

    def act(self, observation: Any, info: dict[str, Any]) -> str: ...
