"""`PotentialShaping`: potential-based reward shaping, F = gamma * phi(s') - phi(s) (Ng, Harada, Russell 1999).

Paper: "Policy invariance under reward transformations: Theory and application to reward shaping" (ICML 1999).
Adding F to the reward leaves the optimal policy unchanged for any potential phi, provided that in an
episodic task the potential of a terminal state is 0: then the discounted shaped return of every episode
from s_0 is its unshaped return minus phi(s_0), whatever the policy did:

    sum_t gamma^t (r_t + gamma * phi(s_{t+1}) - phi(s_t)) = sum_t gamma^t r_t - phi(s_0)    (phi(s_T) = 0)

So this wrapper uses phi(s') = 0 when the step terminates the episode (submit/answer). A truncated episode
(step budget) did not reach a terminal state: its last step keeps the estimator's value of s' as the
bootstrap potential, which is what a trainer would bootstrap from. Here phi is a `ValueEstimator`
(`prm.rewards.estimators`): fraction of tests passing, a Monte Carlo estimate, a value model, a checklist,
or a scorer of the gold answer.

`ProgressReward` and `InformationGain` subclass this wrapper with gamma = 1 and *keep* the estimator's
value at the terminal state (`zero_terminal_potential = False`): they are progress measures, whose sum over
an episode telescopes to V(final) - V(initial), not policy-invariant shaping.

Each step's `info[f"{name}_potential"]` holds `{"before": phi(s), "after": phi(s')}` (the potential used, so
0 after a terminating step here) so a trajectory can be re-scored offline with another gamma or weight. An
estimator that fails for infrastructure reasons flags the step `infra_error` and scores nothing; the next
successful step measures from the last known potential. An estimator with no value for a reason the agent may
have caused (`SignalUnscored`, e.g. a model judge's unparsable reply) leaves the step unscored and flagged in
`info["reward_flags"]`, without `infra_error`.

>>> import gymnasium as gym, prm
>>> from prm.rewards import PotentialShaping, TestPassFraction
>>> env = PotentialShaping(gym.make("prm/swe-v0", scenario="toolz-groupby-key"), TestPassFraction(),
...                        gamma=0.99)  # doctest: +SKIP
>>> shaping_term(phi_before=0.5, phi_after=1.0, gamma=0.99)
0.49
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym

from prm.errors import SandboxError
from prm.rewards.base import SignalUnscored, StepSignal, flag_missing
from prm.rewards.estimators import ValueEstimator


def shaping_term(phi_before: float, phi_after: float, gamma: float) -> float:
    """F = gamma * phi(s') - phi(s)."""
    return round(gamma * phi_after - phi_before, 12)


class PotentialShaping(StepSignal):
    """Adds gamma * phi(s') - phi(s) with phi given by `potential` (see the module docstring)."""

    name: ClassVar[str] = "shaping"
    zero_terminal_potential: ClassVar[bool] = True
    """phi(s') = 0 when the step terminates the episode (Ng et al.'s condition for policy invariance)."""

    def __init__(self, env: gym.Env, potential: ValueEstimator, *, gamma: float = 0.99, weight: float = 1.0):
        super().__init__(env, weight=weight)
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {gamma}")
        potential.check(env)
        self.potential = potential
        self.gamma = float(gamma)
        self._phi = 0.0

    def _on_reset(self, observation: Any, info: dict[str, Any]) -> None:
        self._phi = float(self.potential.value(self.env, None))

    def _value(self, action: Any, observation: Any, info: dict[str, Any]) -> float | None:
        if info.get("infra_error"):
            return None
        if self._terminated and self.zero_terminal_potential:
            phi = 0.0
        elif self.potential.only_after_changes and not info.get("changed_files") and "outcome" not in info:
            phi = self._phi
        else:
            try:
                phi = float(self.potential.value(self.env, info))
            except SandboxError as err:
                info["infra_error"] = True
                info["error"] = info.get("error") or f"{self.name} estimator failed: {err}"
                return None
            except SignalUnscored as err:  # e.g. a model judge: flagged, an infra error only if unreachable
                flag_missing(info, self.name, err.failure)
                return None
        info[f"{self.name}_potential"] = {"before": self._phi, "after": phi}
        value = shaping_term(self._phi, phi, self.gamma)
        self._phi = phi
        return value
