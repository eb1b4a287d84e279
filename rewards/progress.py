"""`ProgressReward`: a step's reward is the progress it made, r_t = V(s_{t+1}) - V(s_t).

Papers: "Rewarding Progress: Scaling Automated Process Verifiers for LLM Reasoning" (PAV, Setlur et al.
2024: process advantage = change in a prover's success probability) and SPA-RL ("Stepwise Progress
Attribution"). V is a pluggable `ValueEstimator` (`prm.rewards.estimators`):

- `TestPassFraction()`: SWE, fraction of the scenario's tests passing, run in a fork of the env (the agent's
  state is untouched) and only after steps that changed files;
- `MonteCarlo(prover, n)`: fork, let a prover agent finish the episode n times, mean outcome reward;
- `ValueModel.load(path)`: a torch model of the text state, fitted by `prm train-value`;
- `Checklist(subgoals)`: fraction of the subgoal predicates a scenario declares that hold;
- `ScreenJudge(judge, images)`: the running sum of a model's scores of each step from the screens before and
  after it (GUI-Shepherd; `prm.rewards.screen_judge`), so r_t is the judged step's progress.

The rewards telescope: their sum over an episode is V(final) - V(initial).

>>> import gymnasium as gym, prm
>>> from prm.rewards import ProgressReward, TestPassFraction
>>> env = ProgressReward(gym.make("prm/swe-v0", scenario="toolz-groupby-key"), TestPassFraction())  # doctest: +SKIP
>>> obs, info = env.reset(seed=0)  # doctest: +SKIP
>>> obs, reward, *_, info = env.step(edit_action)  # doctest: +SKIP
>>> info["progress_potential"]  # doctest: +SKIP
{'before': 0.5, 'after': 1.0}
"""

from __future__ import annotations

from typing import ClassVar

import gymnasium as gym

from prm.rewards.estimators import ValueEstimator
from prm.rewards.shaping import PotentialShaping


class ProgressReward(PotentialShaping):
    """r_t = V(s_{t+1}) - V(s_t) with V from `estimator` (potential shaping with gamma = 1)."""

    name: ClassVar[str] = "progress"
    zero_terminal_potential: ClassVar[bool] = False  # a progress measure: V(final) counts

    def __init__(self, env: gym.Env, estimator: ValueEstimator, *, weight: float = 1.0):
        super().__init__(env, estimator, gamma=1.0, weight=weight)
