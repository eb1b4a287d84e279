"""`MinForm`: min-form credit assignment for process rewards (PURE).

Paper: "Stop Summation: Min-Form Credit Assignment Is All Process Reward Model Needs for Reasoning" (PURE).
Summing process rewards invites hacking (many small positive steps); PURE takes the value of a step as the
*minimum* of the future process rewards instead. With p_t the process reward of step t (the gated values
when a `GatedAccumulation` is inside), at the last step this wrapper adds to `info`:

    min_form_returns[t] = min_{k >= t} p_k
    min_form_rewards[t] = min_form_returns[t] - min_form_returns[t+1]   (min_form_returns[T+1] = 0)

so that a trainer summing `min_form_rewards` from t gets the min-form return of t. The rewards that
`step` returns are not changed (the minimum over the future is known only at the end).

>>> min_form([0.5, -0.2, 0.3])
([-0.2, -0.2, 0.3], [0.0, -0.5, 0.3])
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from prm.rewards.base import ensure_reward_info


def min_form(process_rewards: list[float]) -> tuple[list[float], list[float]]:
    """(min-form returns, the per-step rewards whose sums from t give those returns)."""
    returns: list[float] = []
    running = float("inf")
    for p in reversed(process_rewards):
        running = min(running, float(p))
        returns.append(running)
    returns.reverse()
    following = [*returns[1:], 0.0]
    return returns, [round(g - g_next, 12) for g, g_next in zip(returns, following, strict=True)]


class MinForm(gym.Wrapper):
    """Adds min-form returns and rewards of the episode's process rewards to the last step's `info`."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._process: list[float] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        self._process = []
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        info = ensure_reward_info(info, reward)
        self._process.append(info["process_reward"])
        if terminated or truncated:
            credit = info.get("step_rewards", self._process)
            info["min_form_returns"], info["min_form_rewards"] = min_form(credit)
        return observation, reward, terminated, truncated, info
