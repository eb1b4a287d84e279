"""`LMScorer`: log p(gold answer | state text) under a transformers causal LM, teacher-forced.

The scorer behind `InformationGain(scorer=lm)` (IGPO). The state text (`prm.rewards.state_text`) is followed
by `"\\nAnswer: "` and the gold answer's tokens; the score is the sum of the log-probabilities of those tokens.
A context longer than `max_tokens` keeps its end (the most recent steps). torch and transformers are imported
only when a scorer is built (the `ml` extra); a model that cannot be loaded is a `RewardSpecError` at once.

>>> scorer = LMScorer("path/to/any-causal-lm")  # doctest: +SKIP
>>> scorer.log_prob("Q: capital of France?", "Paris")  # doctest: +SKIP
-3.21
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from prm.errors import RewardSpecError
from prm.rewards.estimators import has_hook
from prm.rewards.state_text import state_text

ANSWER_PROMPT = "\nAnswer: "


class LMScorer:
    """Teacher-forced log-probability of the gold answer given the state (see the module docstring)."""

    only_after_changes = False

    def __init__(self, model: str, *, max_tokens: int = 1024, device: str = "cpu"):
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as err:
            raise RewardSpecError(
                f"scorer=lm needs torch and transformers: pip install 'prm-gym[ml]' ({err})"
            ) from err
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model)
            self.model = AutoModelForCausalLM.from_pretrained(model).to(device).eval()
        except Exception as err:  # transformers raises OSError, ValueError, EnvironmentError, ...
            raise RewardSpecError(f"cannot load scorer model '{model}': {err}") from err
        self._torch = torch
        self.name, self.max_tokens, self.device = model, max_tokens, device

    def check(self, env: gym.Env) -> None:
        if not has_hook(env, "gold_answer"):
            raise RewardSpecError(f"scorer=lm needs gold_answer(); {type(env.unwrapped).__name__} has none")

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float:
        return self.log_prob(state_text(env), env.unwrapped.gold_answer())

    def log_prob(self, context: str, answer: str) -> float:
        """Sum of log p(answer token | context, previous answer tokens)."""
        torch = self._torch
        context_ids = self.tokenizer(context + ANSWER_PROMPT, add_special_tokens=False)["input_ids"]
        answer_ids = self.tokenizer(answer, add_special_tokens=False)["input_ids"]
        if not answer_ids:
            raise RewardSpecError("the gold answer tokenizes to nothing; the lm scorer cannot score it")
        keep = max(1, self.max_tokens - len(answer_ids))
        ids = torch.tensor([context_ids[-keep:] + answer_ids], device=self.device)
        with torch.no_grad():
            logits = self.model(ids).logits[0, :-1].float()
        log_probs = torch.log_softmax(logits, dim=-1)
        targets = ids[0, 1:]
        picked = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
        return float(picked[-len(answer_ids) :].sum())
