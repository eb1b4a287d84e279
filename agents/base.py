"""The `Agent` protocol: anything that turns an observation into an action string.

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


@runtime_checkable
class Agent(Protocol):
    def reset(self, env: gym.Env, observation: Any, info: dict[str, Any]) -> None: ...

    def act(self, observation: Any, info: dict[str, Any]) -> str: ...
