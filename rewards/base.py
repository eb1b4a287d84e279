"""`StepSignal`: the base of every process-signal wrapper, which holds the reward bookkeeping in one place.

A signal computes one value per step (`_value`), writes it to `info["reward_components"][name]` and adds
`weight * value` to the reward. Two more `info` keys make signals composable with the aggregators outside them:

- `env_reward`: the reward of the bare env at this step (set by the innermost wrapper, before any signal);
- `process_reward`: the sum of `weight * value` over the signals of this step (what gating, clipping and
  min-form credit act on). `reward == env_reward + process_reward` below the aggregators.

A `_value` of `None` means "not scored this step": no component is written, so it never reads as a zero, and
the signal adds nothing to `process_reward` (clip, gated and minform then act on the signals that were
scored). The signal says why in `info["reward_flags"][name]` (e.g. a judge's "unparsable" or "unreachable");
only a failure of the infrastructure, never one the agent can provoke, also sets `info["infra_error"]`.

>>> import gymnasium as gym
>>> class StepCount(StepSignal):
...     name = "step_count"
...     def _value(self, action, observation, info):
...         return 1.0
>>> env = StepCount(gym.make("CartPole-v1"), weight=0.5)
>>> _ = env.reset(seed=0)
>>> _, reward, *_, info = env.step(0)
>>> reward, info["reward_components"]["step_count"], info["process_reward"]
(1.5, 1.0, 0.5)
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym


class SignalUnscored(Exception):
    """A signal has no value this step; `failure` says why: "unparsable" (a judge's reply held no verdict) or
    "refused" (its endpoint refused the request's content), which the agent can provoke, or "unreachable" (the
    signal's back end failed: an infrastructure failure)."""

    def __init__(self, failure: str, message: str):
        super().__init__(message)
        self.failure = failure


def flag_missing(info: dict[str, Any], signal: str, failure: str | None) -> None:
    """Records why `signal` has no component this step, `info["reward_flags"][signal] = failure`; only an
    "unreachable" back end is an infrastructure failure (`info["infra_error"]`), never what the agent can
    provoke ("unparsable", "refused")."""
    if failure is None:
        return
    info["reward_flags"] = {**(info.get("reward_flags") or {}), signal: failure}
    if failure == "unreachable":
        info["infra_error"] = True


def ensure_reward_info(info: dict[str, Any], reward: float) -> dict[str, Any]:
    """A copy of `info` with `reward_components`, `env_reward` and `process_reward` present."""
    info = dict(info)
    info["reward_components"] = dict(info.get("reward_components") or {})
    info.setdefault("env_reward", float(reward))
    info.setdefault("process_reward", 0.0)
    return info


class StepSignal(gym.Wrapper):
    """Base class of process-signal wrappers: subclasses set `name` and implement `_value`."""

    name: ClassVar[str]
    step_score: ClassVar[bool] = False
    """True when the value scores the step itself (a PRM's step score, e.g. a judge's verdict); False when it
    is a change of a potential (a delta: lsp, progress, info_gain), which min-form credit must not be applied
    to (`prm.rewards.minform`)."""

    def __init__(self, env: gym.Env, *, weight: float = 1.0):
        super().__init__(env)
        self.weight = float(weight)
        self._terminated = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        observation, info = self.env.reset(seed=seed, options=options)
        self._on_reset(observation, info)
        return observation, info

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        info = ensure_reward_info(info, reward)
        self._terminated = bool(terminated)
        value = self._value(action, observation, info)
        if value is not None:
            info["reward_components"][self.name] = float(value)
            contribution = self.weight * float(value)
            reward = float(reward) + contribution
            info["process_reward"] += contribution
        return observation, float(reward), terminated, truncated, info

    def _on_reset(self, observation: Any, info: dict[str, Any]) -> None:
        """Called after each `reset` of the inner env (e.g. to measure the initial state)."""

    def _value(self, action: Any, observation: Any, info: dict[str, Any]) -> float | None:
        """This step's value (`self._terminated` says whether the step ended the episode by termination)."""
        raise NotImplementedError
