"""Provers for Monte Carlo progress (`progress:mc`): the agents whose success probability V(s) estimates.

PAV ("Rewarding Progress", Setlur et al. 2024) measures a step by the change in a *prover policy's* chance of
finishing the task from the state it leads to. A deterministic prover (the oracle) makes every rollout the
same, so V is 0 or 1 and n adds nothing; a stochastic prover (a model agent sampling with temperature) makes
V a probability. Any object of the `prm.agents.Agent` protocol is a prover in code
(`MonteCarlo(prover=agent)`); in a spec, `prover=` names one through `prover_from_spec`, the one place a
prover spec is parsed:

| prover spec                       | agent                                                            |
| --------------------------------- | ---------------------------------------------------------------- |
| `oracle`                          | `OracleAgent`: the env's own solution (deterministic)            |
| `stochastic_oracle:p=0.3,seed=0`  | `StochasticOracle`: the oracle with probability p, else gives up |

>>> prover_from_spec("stochastic_oracle:p=0.25,seed=7")
StochasticOracle(p=0.25, seed=7)
>>> prover_from_spec("telepathy")
Traceback (most recent call last):
...
prm.errors.RewardSpecError: unknown prover 'telepathy'; known: oracle, stochastic_oracle:p=P,seed=N
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

import gymnasium as gym
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prm.errors import RewardSpecError

if TYPE_CHECKING:  # rewards depend on prm core only at import time: agents are imported where used
    from prm.agents import Agent

GIVE_UP = json.dumps({"tool": "give_up", "args": {}})
"""What a `StochasticOracle` that gave up plays: an invalid action, so its rollout never finishes (V counts 0)."""


class StochasticOracle:
    """A prover whose success probability is known: each episode, with probability `p` (drawn from its own
    seeded generator) it plays the env's oracle actions, otherwise it gives up (plays an invalid action until
    the rollout's horizon ends it). From a state where the oracle solves the task, V = p in expectation.
    `episodes` counts the episodes it was reset for (one per Monte Carlo rollout)."""

    def __init__(self, p: float, seed: int = 0):
        if not 0.0 <= p <= 1.0:
            raise RewardSpecError(f"stochastic_oracle needs 0 <= p <= 1, got p={p}")
        self.p, self.seed = p, seed
        self.episodes = 0
        from prm.agents import OracleAgent

        self._random = random.Random(seed)
        self._oracle = OracleAgent()
        self._solving = False

    def reset(self, env: gym.Env, observation: Any, info: dict[str, Any]) -> None:
        self.episodes += 1
        self._solving = self._random.random() < self.p
        if self._solving:
            self._oracle.reset(env, observation, info)

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        return self._oracle.act(observation, info) if self._solving else GIVE_UP

    def __repr__(self) -> str:
        return f"StochasticOracle(p={self.p}, seed={self.seed})"


class _StochasticOracleParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    p: float = Field(ge=0.0, le=1.0)
    seed: int = 0


def prover_from_spec(spec: str | Agent) -> Agent:
    """The prover agent that `spec` names (see the module docstring); an `Agent` is returned as it is.
    `RewardSpecError` names what is wrong."""
    from prm.agents import Agent, OracleAgent

    if not isinstance(spec, str):
        if not isinstance(spec, Agent):
            raise RewardSpecError(f"a prover must be an Agent (reset, act), got {type(spec).__name__}")
        return spec
    name, _, params = spec.strip().partition(":")
    if name == "oracle" and not params:
        return OracleAgent()
    if name == "stochastic_oracle":
        pairs = [item.partition("=") for item in params.split(",") if item]
        if any(not eq for _, eq, _ in pairs):
            raise RewardSpecError(f"prover '{spec}': parameters are KEY=VALUE (p=P,seed=N)")
        try:
            parsed = _StochasticOracleParams.model_validate({k.strip(): v.strip() for k, _, v in pairs})
        except ValidationError as err:
            problems = "; ".join(f"'{'.'.join(map(str, e['loc']))}': {e['msg']}" for e in err.errors())
            raise RewardSpecError(f"prover '{spec}': {problems}") from err
        return StochasticOracle(parsed.p, parsed.seed)
    raise RewardSpecError(f"unknown prover '{spec}'; known: oracle, stochastic_oracle:p=P,seed=N")
