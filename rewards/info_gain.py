"""`InformationGain`: reward a step by how much it raised the probability of the gold answer (IGPO).

Paper: "Information Gain-based Policy Optimization: A Simple and Effective Approach for Multi-Turn LLM Agents"
(IGPO). For families with a gold answer (hook `gold_answer()`):

    r_t = log p(gold | history_t) - log p(gold | history_{t-1}) - redundancy * redundant_t

where p is a scorer: `LMScorer` (teacher-forced log-probability under any transformers causal LM,
`prm.rewards.lm_scorer`) or the model-free `EvidenceRecall` (StepSearch-style: the fraction of the gold
supporting evidence surfaced so far takes the place of log p).

The paper's own form (spec `info_gain:lm:model=...,form=igpo`): IGPO's gain is the change in the
length-normalised probability of the gold answer, exp((1/n) sum_i log p_i) (`LMScorer(form="igpo")`), not in
its summed log-probability, and the final (answer) turn gets the outcome reward instead of a gain
(`outcome_on_final_turn=True`: its info_gain is 0 and the env's outcome reward stands). The summed
log-probability (default) weighs long answers' gains more, is unbounded below, and also pays the last turn. `redundant_t` is the env's native
`redundancy` component (1 for a repeated query or an already opened document). A family without a gold
answer, or an evidence scorer on a family without `evidence_recall()`, is a `RewardSpecError` at construction.

>>> import gymnasium as gym, prm
>>> env = InformationGain(gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62"), EvidenceRecall())
>>> _ = env.reset(seed=0)
>>> _, reward, *_, info = env.step('{"tool": "search", "args": {"query": "Tinted Windows band"}}')
>>> info["reward_components"]["info_gain"] > 0
True
"""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym

from prm.errors import RewardSpecError
from prm.rewards.estimators import ValueEstimator, has_hook
from prm.rewards.shaping import PotentialShaping


class EvidenceRecall:
    """Scorer: the fraction of the gold supporting evidence shown to the agent so far (`evidence_recall()`)."""

    only_after_changes = False

    def check(self, env: gym.Env) -> None:
        if not callable(getattr(env.unwrapped, "evidence_recall", None)):
            raise RewardSpecError(
                f"info_gain:scorer=evidence needs the hook evidence_recall() (e.g. prm/search-qa-v0); "
                f"{type(env.unwrapped).__name__} has none"
            )

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float:
        return float(env.unwrapped.evidence_recall())


class InformationGain(PotentialShaping):
    """r_t = score(history_t) - score(history_{t-1}) - redundancy * redundant_t (see the module docstring)."""

    name: ClassVar[str] = "info_gain"
    zero_terminal_potential: ClassVar[bool] = False  # a progress measure: V(final) counts

    def __init__(
        self,
        env: gym.Env,
        scorer: ValueEstimator,
        *,
        redundancy: float = 0.5,
        weight: float = 1.0,
        outcome_on_final_turn: bool = False,
    ):
        if not has_hook(env, "gold_answer"):
            raise RewardSpecError(
                f"info_gain needs a family with a gold answer (gold_answer()); {type(env.unwrapped).__name__} has none"
            )
        super().__init__(env, scorer, gamma=1.0, weight=weight)
        self.redundancy = float(redundancy)
        self.outcome_on_final_turn = outcome_on_final_turn

    def _value(self, action: Any, observation: Any, info: dict[str, Any]) -> float | None:
        if self.outcome_on_final_turn and self._terminated:
            info[f"{self.name}_potential"] = {"before": self._phi, "after": self._phi}  # no gain: the outcome
            return 0.0
        gain = super()._value(action, observation, info)
        if gain is None:
            return None
        return round(gain - self.redundancy * info["reward_components"].get("redundancy", 0.0), 12)
