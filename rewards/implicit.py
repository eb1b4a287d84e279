"""`ImplicitPRM`: the implicit process reward of PRIME, the policy's log-ratio to a reference model per step.

Paper: "Process Reinforcement through Implicit Rewards" (PRIME, Cui et al. 2025). With a policy pi and a
reference pi_ref (local transformers causal LMs), the reward of step t is

    r_t = beta * (log pi(a_t | h_t) - log pi_ref(a_t | h_t))

summed over the tokens of the action a_t, teacher-forced after the history h_t. h_t is the chat an agent sees
(`prm.agents.prompt.Conversation`: the task with its tool manual, then the earlier actions and observations),
rendered with the model's chat template and ending with the assistant's turn opener (a tokenizer without a
template reads the state text followed by "\\nAction: "). A history longer than `max_tokens` keeps its end.
The log-probabilities are kept in `info["implicit"]`; `prm rescore` reuses them (any beta) or recomputes them
from the recorded text of a trajectory (other models), without replaying the env.

>>> env = ImplicitPRM(env, policy="runs/policy", ref="runs/ref", beta=0.05)  # doctest: +SKIP
>>> _, reward, *_, info = env.step(action)  # doctest: +SKIP
>>> info["reward_components"]["implicit"] == 0.05 * (info["implicit"]["policy"] - info["implicit"]["ref"])  # doctest: +SKIP
True
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym

from prm.models import Trajectory
from prm.rewards.base import StepSignal
from prm.rewards.lm_scorer import LMScorer
from prm.rewards.state_text import render
from prm.tools import describe_tools


class ActionLogProb(LMScorer):
    """log p(action tokens | history) under one transformers causal LM (`LMScorer` loads it, `load_scorer`
    once per path and process)."""

    def __init__(self, path: str, *, max_tokens: int = 2048):
        super().__init__(path, max_tokens=max_tokens)
        self._lock = threading.Lock()

    def context_ids(self, first_observation: str, history: Sequence[tuple[str, str]]) -> list[int]:
        """The token ids of h_t: the chat before the action, ending where the assistant starts writing."""
        if self.tokenizer.chat_template is None:
            text = render(first_observation, history) + "\nAction: "
        else:
            from prm.agents.prompt import Conversation  # rewards depend on prm core only at import time

            chat = Conversation(first_observation, turns=list(history)).messages()
            text = self.tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def action_log_prob(
        self, first_observation: str, history: Sequence[tuple[str, str]], action: str
    ) -> float:
        """sum_i log p(a_i | h_t, a_<i) over the action's tokens."""
        torch = self._torch
        action_ids = self.tokenizer(action, add_special_tokens=False)["input_ids"]
        if not action_ids:
            return 0.0
        keep = max(1, self.max_tokens - len(action_ids))
        ids = torch.tensor([self.context_ids(first_observation, history)[-keep:] + action_ids])
        with self._lock, torch.no_grad():
            logits = self.model(ids).logits[0, :-1].float()
        picked = torch.log_softmax(logits, dim=-1).gather(1, ids[0, 1:].unsqueeze(1)).squeeze(1)
        return float(picked[-len(action_ids) :].sum())


@functools.cache
def load_scorer(path: str, max_tokens: int = 2048) -> ActionLogProb:
    """One loaded model per path in this process (the envs of a rollout share it)."""
    return ActionLogProb(path, max_tokens=max_tokens)


class ImplicitPRM(StepSignal):
    """r_t = beta * (log pi(a_t | h_t) - log pi_ref(a_t | h_t)) (see the module docstring)."""

    name: ClassVar[str] = "implicit"

    def __init__(self, env: gym.Env, *, policy: str, ref: str, beta: float = 0.05, weight: float = 1.0):
        super().__init__(env, weight=weight)
        self.policy, self.ref, self.beta = load_scorer(policy), load_scorer(ref), float(beta)
        self._history: list[tuple[str, str]] = []

    def _on_reset(self, observation: Any, info: dict[str, Any]) -> None:
        base = self.env.unwrapped
        self._first = f"{base.task}\n\n{describe_tools(base.tools)}"
        self._history = []

    def _value(self, action: Any, observation: Any, info: dict[str, Any]) -> float | None:
        before = list(self._history)
        self._history.append((str(action), str(observation)))
        record = {
            "policy": self.policy.action_log_prob(self._first, before, str(action)),
            "ref": self.ref.action_log_prob(self._first, before, str(action)),
            "policy_path": self.policy.name,
            "ref_path": self.ref.name,
        }
        info["implicit"] = record
        return self.beta * (record["policy"] - record["ref"])

    @staticmethod
    def rescore(trajectory: Trajectory, *, policy: str, ref: str, beta: float) -> list[float]:
        """The rewards of a recorded episode's steps: from the stored log-probabilities when they came from the
        same models, else recomputed from the trajectory's text."""
        first = str(trajectory.header.initial_observation)
        history = [(step.action, str(step.observation)) for step in trajectory.steps]
        values = []
        for t, step in enumerate(trajectory.steps):
            stored = step.info.get("implicit") or {}
            if stored.get("policy_path") == policy and stored.get("ref_path") == ref:
                values.append(beta * (stored["policy"] - stored["ref"]))
                continue
            logs = [
                load_scorer(path).action_log_prob(first, history[:t], step.action) for path in (policy, ref)
            ]
            values.append(beta * (logs[0] - logs[1]))
        return values
