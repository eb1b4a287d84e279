"""Value estimators V(s): what progress rewards and potential shaping measure a state with.

An estimator reads the env only through documented hooks (`env.unwrapped.run_tests`, `.scenario`, `.fork()`,
`.history`, `.task`). `check(env)` runs at construction and raises `RewardSpecError` when the env lacks a hook;
`value(env, info)` is called after reset (`info=None`) and after steps (the step's `info`); it raises
`SandboxError` for infrastructure failures, which the wrapper flags instead of scoring.

>>> isinstance(TestPassFraction(), ValueEstimator)
True
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

import gymnasium as gym

from prm.agent_protocol import Agent, AgentError
from prm.env import PrmEnv
from prm.errors import RewardSpecError, SandboxError
from prm.rewards.provers import prover_from_spec
from prm.rewards.state_text import first_observation


@runtime_checkable
class ValueEstimator(Protocol):
    only_after_changes: bool
    """True when V can only change on steps that changed files (the wrapper then skips the estimate)."""

    def check(self, env: gym.Env) -> None: ...

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float: ...


def has_hook(env: gym.Env, name: str) -> bool:
    """True when the env's family implements the hook `name` (not just the base class's placeholder)."""
    base = env.unwrapped
    method = getattr(type(base), name, None)
    return method is not None and method is not getattr(PrmEnv, name, None)


class TestPassFraction:
    """V = fraction of the scenario's tests that pass, run in a fork of the env (SWE family).

    `tests="all"` (default) counts fail_to_pass and pass_to_pass tests, so breaking behaviour that worked
    lowers V as much as fixing the bug raises it; `tests="fail_to_pass"` counts only the tests of the bug.
    """

    __test__ = False  # not a pytest class
    only_after_changes = True

    def __init__(self, tests: Literal["all", "fail_to_pass"] = "all"):
        self.tests = tests

    def check(self, env: gym.Env) -> None:
        base = env.unwrapped
        if not callable(getattr(base, "run_tests", None)):
            raise RewardSpecError(
                f"progress:test_pass needs an env with tests (run_tests and scenario.tests, e.g. prm/swe-v0); "
                f"{type(base).__name__} has none"
            )

    def test_ids(self, env: gym.Env) -> list[str]:
        tests = env.unwrapped.scenario.tests
        ids = list(tests.fail_to_pass)
        if self.tests == "all":
            ids += [t for t in tests.pass_to_pass if t not in ids]
        return ids

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float:
        ids = self.test_ids(env)
        results = env.unwrapped.run_tests(ids)
        return sum(bool(results.get(test_id)) for test_id in ids) / len(ids) if ids else 0.0


class MonteCarlo:
    """V = mean outcome reward of `n` rollouts of `prover` from forks of the current state (at most `horizon`
    steps each; a rollout that does not finish counts 0). At a final state V is the outcome reward itself.
    An infrastructure failure in a rollout raises `SandboxError` (the step is flagged, not scored).

    `prover` is any `prm.agents.Agent` (PAV's prover is a stochastic policy: a model agent sampling with
    temperature, or `prm.rewards.provers.StochasticOracle`), or a prover spec string (`prover_from_spec`).
    Each rollout resets it with the episode's real first observation (task and tool manual, as `reset`
    returned it) and `{"history": [(action, observation), ...]}` (the steps taken so far, for agents that
    build their prompt from the whole episode), then asks it to act on the current state's last observation.
    """

    only_after_changes = False

    def __init__(self, prover: Agent | str, n: int = 4, horizon: int = 20):
        if n < 1 or horizon < 1:
            raise RewardSpecError(f"MonteCarlo needs n >= 1 and horizon >= 1, got n={n}, horizon={horizon}")
        self.prover, self.n, self.horizon = prover_from_spec(prover), n, horizon

    def check(self, env: gym.Env) -> None:
        if not has_hook(env, "fork"):
            raise RewardSpecError(
                f"progress:mc needs an env that can fork(); {type(env.unwrapped).__name__} cannot"
            )

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float:
        if info is not None and "outcome" in info:
            return _outcome(info)
        return sum(self._rollout(env.unwrapped) for _ in range(self.n)) / self.n

    def _rollout(self, base: PrmEnv) -> float:
        fork = base.fork()
        try:
            first = first_observation(base)
            self.prover.reset(fork, first, {"history": list(base.history)})
            observation = base.history[-1][1] if base.history else first
            for _ in range(self.horizon):
                try:
                    action = self.prover.act(observation, info={})
                except AgentError:  # a scripted prover ran out of actions: the rollout did not finish
                    return 0.0
                observation, _, terminated, truncated, info = fork.step(action)
                if terminated or truncated:
                    return _outcome(info)
            return 0.0
        finally:
            fork.close()


def _outcome(info: dict[str, Any]) -> float:
    reward = (info.get("outcome") or {}).get("reward")
    if reward is None:
        raise SandboxError(f"episode ended without an outcome: {info.get('error')}")
    return float(reward)
