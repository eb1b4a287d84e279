"""`LMScorer`: how likely a transformers causal LM finds the gold answer given the state text, teacher-forced.

The scorer behind `InformationGain(scorer=lm)` (IGPO). The state text (`prm.rewards.state_text`) is followed
by `"\nAnswer: "` and the gold answer. The *joined* text is tokenised once and the answer span is the tokens
that the prompt alone does not have: a byte-level BPE merges the prompt's last space into the answer's first
word (" Tulsa" is one token, while "Tulsa" tokenised on its own is several, which the model never sees after
"Answer:"), so tokenising the two separately would score a token sequence the model would not produce. With
p_i the model's probability of the i-th of the n answer tokens, the score is

- `form="log_prob"` (default): sum_i log p_i, the log-probability of the whole answer;
- `form="igpo"`: exp((1/n) sum_i log p_i), the length-normalised probability that IGPO's information gain
  is a change of (so a long answer is not penalised for its length, and gains are bounded by 1).

A context longer than `max_tokens` keeps its end (the most recent steps). torch and transformers are imported
only when a scorer is built (the `ml` extra); a model that cannot be loaded is a `RewardSpecError` at once.

>>> scorer = LMScorer("path/to/any-causal-lm")  # doctest: +SKIP
>>> scorer.log_prob("Q: capital of France?", "Paris")  # doctest: +SKIP
-3.21
"""

from __future__ import annotations

import math
from typing import Any, Literal

import gymnasium as gym

from prm.errors import RewardSpecError
from prm.rewards.estimators import has_hook
from prm.rewards.state_text import state_text

ANSWER_PROMPT = "\nAnswer: "


class LMScorer:
    """Teacher-forced log-probability of the gold answer given the state (see the module docstring)."""

    only_after_changes = False

    def __init__(
        self,
        model: str,
        *,
        max_tokens: int = 1024,
        device: str = "cpu",
        form: Literal["log_prob", "igpo"] = "log_prob",
    ):
        if form not in ("log_prob", "igpo"):
            raise RewardSpecError(f"scorer form must be 'log_prob' or 'igpo', got {form!r}")
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
        self.name, self.max_tokens, self.device, self.form = model, max_tokens, device, form

    def check(self, env: gym.Env) -> None:
        if not has_hook(env, "gold_answer"):
            raise RewardSpecError(f"scorer=lm needs gold_answer(); {type(env.unwrapped).__name__} has none")

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float:
        token_log_probs = self.answer_log_probs(state_text(env), env.unwrapped.gold_answer())
        if self.form == "igpo":
            return math.exp(sum(token_log_probs) / len(token_log_probs))
        return sum(token_log_probs)

    def split(self, context: str, answer: str) -> tuple[list[int], list[int]]:
        """(prompt token ids, answer token ids) of the joined text `context + "\nAnswer: " + answer`: the
        answer span starts at the first token where the joined text's tokens leave the prompt's own."""
        prompt = context + ANSWER_PROMPT
        joined = self.tokenizer(prompt + answer, add_special_tokens=False)["input_ids"]
        alone = self.tokenizer(prompt, add_special_tokens=False)["input_ids"]
        common = 0
        while common < min(len(joined), len(alone)) and joined[common] == alone[common]:
            common += 1
        if common == len(joined):
            raise RewardSpecError("the gold answer tokenizes to nothing; the lm scorer cannot score it")
        return joined[:common], joined[common:]

    def log_prob(self, context: str, answer: str) -> float:
        """Sum of log p(answer token | context, previous answer tokens), over the answer span of the joined
        text (`split`)."""
        return sum(self.answer_log_probs(context, answer))

    def answer_log_probs(self, context: str, answer: str) -> list[float]:
        """log p of each token of the answer span, teacher-forced."""
        torch = self._torch
        context_ids, answer_ids = self.split(context, answer)
        keep = max(1, self.max_tokens - len(answer_ids))
        ids = torch.tensor([context_ids[-keep:] + answer_ids], device=self.device)
        with torch.no_grad():
            logits = self.model(ids).logits[0, :-1].float()
        log_probs = torch.log_softmax(logits, dim=-1)
        targets = ids[0, 1:]
        picked = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)
        return [float(value) for value in picked[-len(answer_ids) :]]
