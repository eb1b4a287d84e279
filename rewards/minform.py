"""`MinForm`: min-form credit assignment for process rewards (PURE).

Paper: "Stop Summation: Min-Form Credit Assignment Is All Process Reward Model Needs for Reasoning" (PURE).
Summing process rewards invites hacking (many small positive steps); PURE takes the value of a step as the
*minimum* of the future process rewards instead. With p_t the process reward of step t (the gated values
when a `GatedAccumulation` is inside), at the last step this wrapper adds to `info`:

    min_form_returns[t] = min_{k >= t} p_k
    min_form_rewards[t] = min_form_returns[t] - min_form_returns[t+1]   (min_form_returns[T+1] = 0)

so that a trainer summing `min_form_rewards` from t gets the min-form return of t. The rewards that
`step` returns are not changed (the minimum over the future is known only at the end).

When it applies: PURE's p_t are *step scores* (a PRM's judgement of each step, high for every good step):
in `prm.rewards`, the judge's verdict (`judge`). On *delta* signals (a change of a potential,
r_t = V(s_{t+1}) - V(s_t): lsp, progress, info_gain, shaping, and implicit, whose log-ratio is the change of
PRIME's implicit Q), a good step is usually followed by neutral steps worth 0, and the minimum wipes its
credit: a fix at step 3 then a no-op, [0, 0, 1, 0], gives returns [0, 0, 0, 0]. So `MinForm` over a signal
whose `step_score` is False warns (`DeltaSignalWarning`) when it is built, and so does `prm rescore`.

>>> min_form([0.5, -0.2, 0.3])
([-0.2, -0.2, 0.3], [0.0, -0.5, 0.3])
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import gymnasium as gym

from prm.rewards.base import StepSignal, ensure_reward_info


class DeltaSignalWarning(UserWarning):
    """Min-form credit over a delta signal (a change of a potential), where it erases good steps' credit."""


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


def warn_if_deltas(delta_signals: list[str]) -> None:
    """Warns (`DeltaSignalWarning`) when min-form credit is asked for over delta signals."""
    if delta_signals:
        warnings.warn(
            f"min-form credit over delta signal(s) {', '.join(sorted(set(delta_signals)))}: the minimum over "
            "future steps erases the credit of a good step followed by a neutral one; min-form is meant for "
            "step scores (see prm.rewards.minform)",
            DeltaSignalWarning,
            stacklevel=3,
        )


class MinForm(gym.Wrapper):
    """Adds min-form returns and rewards of the episode's process rewards to the last step's `info`."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._process: list[float] = []
        warn_if_deltas(
            [layer.name for layer in _layers(env) if isinstance(layer, StepSignal) and not layer.step_score]
        )

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


def _layers(env: gym.Env) -> Iterator[gym.Env]:
    """The env and every wrapper inside it."""
    while isinstance(env, gym.Wrapper):
        yield env
        env = env.env
    yield env
