"""`ClipCumulative`: keeps the running total of learned (process) reward inside [min, max].

A bound on the total that a learned signal can pay stops an agent from harvesting it without end (the
reward-hacking argument of PURE, "Stop Summation", and of clipped PRM rewards in general). The bound is put
on the *unclipped* running sum, so the paid total is always clip(sum so far): with p_t the process reward of
step t, S_t = p_1 + ... + p_t and C_t = clip(S_t, min, max) (C_0 = 0),

    p'_t = C_t - C_{t-1},     reward_t = env_reward_t + p'_t

A cycle that returns to the same state (a break worth -5 and its repair worth +5, repeated) has S back where
it was, so it earns exactly 0, however often it is repeated. (Clipping an accumulator of already clipped
steps instead, C_t = clip(C_{t-1} + p_t), would pay such a cycle: [-5, 5] * 5 in [-1, 1] sums to +1.)

>>> clip_cumulative([0.6, 0.6, -0.5, 0.6], low=-1.0, high=1.0)
[0.6, 0.4, -0.3, 0.3]
>>> sum(clip_cumulative([-5.0, 5.0] * 5, low=-1.0, high=1.0))
0.0
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
    running, paid, clipped = 0.0, 0.0, []
    for p in process_rewards:
        running += p
        new_paid = _clip(running, low, high)
        clipped.append(round(new_paid - paid, 12))
        paid = new_paid
    return clipped


class ClipCumulative(gym.Wrapper):
    """Pays clip(running sum of the process reward of the wrappers inside it, low, high) in total
    (`low` defaults to -high; see the module docstring)."""

    def __init__(self, env: gym.Env, *, high: float = 1.0, low: float | None = None):
        super().__init__(env)
        self.high = float(high)
        self.low = -self.high if low is None else float(low)
        if self.low > self.high:
            raise ValueError(f"ClipCumulative needs low <= high, got low={self.low}, high={self.high}")
        self._running = self._paid = 0.0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        self._running = self._paid = 0.0
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        info = ensure_reward_info(info, reward)
        self._running += info["process_reward"]
        paid = _clip(self._running, self.low, self.high)
        clipped = round(paid - self._paid, 12)
        self._paid = paid
        reward = float(reward) - info["process_reward"] + clipped
        info["process_reward"] = clipped
        return observation, reward, terminated, truncated, info
