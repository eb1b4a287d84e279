"""`GatedAccumulation`: step rewards count only when the episode's outcome clears a threshold (G-RA).

Paper: "Stabilizing Long-term Multi-turn Reinforcement Learning with Gated Rewards" (G-RA). Formula, with
p_t the process reward of step t (the weighted signals inside this wrapper) and R the outcome reward:

    reward_t = env_reward_t                                for t < T   (p_t is withheld)
    reward_T = env_reward_T + [R >= threshold] * sum_t p_t

so an agent that farms step rewards (breaking and fixing code) without solving the task earns exactly what
an outcome-only agent earns. The gated per-step values `[R >= threshold] * p_t` are in the last step's
`info["step_rewards"]` for trainers that assign credit per step, and `info["gate"]` says what happened.
An episode without an outcome reward (an infrastructure failure) never opens the gate.

>>> import gymnasium as gym, prm
>>> from prm.rewards import GatedAccumulation, LSPDiagnostics
>>> env = GatedAccumulation(LSPDiagnostics(gym.make("prm/swe-v0", scenario="toolz-groupby-key")),
...                         threshold=1.0)  # doctest: +SKIP
>>> gate_rewards([0.5, -0.2, 0.3], outcome=1.0, threshold=1.0)
[0.5, -0.2, 0.3]
>>> gate_rewards([0.5, -0.2, 0.3], outcome=0.0, threshold=1.0)
[0.0, 0.0, 0.0]
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from prm.rewards.base import ensure_reward_info


def gate_rewards(process_rewards: list[float], outcome: float | None, threshold: float) -> list[float]:
    """The per-step process rewards that count: all of them when `outcome >= threshold`, else zeros."""
    is_open = outcome is not None and outcome >= threshold
    return [float(p) if is_open else 0.0 for p in process_rewards]


def outcome_reward(info: dict[str, Any]) -> float | None:
    """The outcome reward in a final step's `info` (None when the episode had no outcome)."""
    value = (info.get("outcome") or {}).get("reward")
    return None if value is None else float(value)


class GatedAccumulation(gym.Wrapper):
    """Withholds the process rewards of the wrappers inside it until the end; releases them if the outcome
    reward is at least `threshold` (see the module docstring for the formula)."""

    def __init__(self, env: gym.Env, *, threshold: float = 1.0):
        super().__init__(env)
        self.threshold = float(threshold)
        self._withheld: list[float] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        self._withheld = []
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        info = ensure_reward_info(info, reward)
        self._withheld.append(info["process_reward"])
        reward = float(reward) - info["process_reward"]
        info["process_reward"] = 0.0
        if terminated or truncated:
            outcome = outcome_reward(info)
            released = gate_rewards(self._withheld, outcome, self.threshold)
            info["step_rewards"] = released
            info["gate"] = {
                "threshold": self.threshold,
                "outcome": outcome,
                "open": outcome is not None and outcome >= self.threshold,
                "withheld": sum(self._withheld),
                "released": sum(released),
            }
            reward += sum(released)
            info["process_reward"] = sum(released)
        return observation, reward, terminated, truncated, info
