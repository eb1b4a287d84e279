"""`ClipCumulative`: keeps the running total of learned (process) reward inside [min, max].

A bound on the total that a learned signal can pay stops an agent from harvesting it without end (the
reward-hacking argument of PURE, "Stop Summation", and of clipped PRM rewards in general). Formula, with
p_t the process reward of step t and C_t the clipped running total (C_0 = 0):

    C_t = clip(C_{t-1} + p_t, min, max),     p'_t = C_t - C_{t-1},     reward_t = env_reward_t + p'_t

>>> clip_cumulative([0.6, 0.6, -0.5, 0.6], low=-1.0, high=1.0)
[0.6, 0.4, -0.5, 0.5]
>>> import gymnasium as gym, prm
>>> from prm.rewards import ClipCumulative, LSPDiagnostics
>>> env = ClipCumulative(LSPDiagnostics(gym.make("prm/swe-v0", scenario="toolz-groupby-key")),
...                      high=1.0)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from prm.rewards.base import ensure_reward_info


def _clip(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def clip_cumulative(process_rewards: list[float], low: float, high: float) -> list[float]:
    """The clipped per-step process rewards p'_t (see the module docstring)."""
    total, clipped = 0.0, []
    for p in process_rewards:
        new_total = _clip(total + p, low, high)
        clipped.append(round(new_total - total, 12))
        total = new_total
    return clipped


class ClipCumulative(gym.Wrapper):
    """Clips the running total of the process reward of the wrappers inside it to [low, high]
    (`low` defaults to -high)."""

    def __init__(self, env: gym.Env, *, high: float = 1.0, low: float | None = None):
        super().__init__(env)
        self.high = float(high)
        self.low = -self.high if low is None else float(low)
        if self.low > self.high:
            raise ValueError(f"ClipCumulative needs low <= high, got low={self.low}, high={self.high}")
        self._total = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        self._total = 0.0
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        info = ensure_reward_info(info, reward)
        new_total = _clip(self._total + info["process_reward"], self.low, self.high)
        clipped = round(new_total - self._total, 12)
        self._total = new_total
        reward = float(reward) - info["process_reward"] + clipped
        info["process_reward"] = clipped
        return observation, reward, terminated, truncated, info
