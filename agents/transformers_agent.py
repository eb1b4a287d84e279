"""`TransformersAgent`: a local causal language model (transformers) as the policy, batched across envs.

Each step renders the conversation with the tokenizer's chat template, generates with the given sampling
parameters, and records the prompt and completion token ids and the completion's per-token log-probabilities
log p_theta(y_i | x, y_<i) under the model's own distribution (temperature 1, before sampling filters): what
a policy-gradient trainer recomputes with gradients. N envs share one left-padded `generate` call.

>>> from prm.agents import TransformersAgent
>>> agent = TransformersAgent("path/to/model", temperature=0.7, seed=0)  # doctest: +SKIP
>>> agent = TransformersAgent(model, tokenizer=tokenizer, do_sample=False)  # doctest: +SKIP

`max_new_tokens` defaults to the model's `generation_config.max_new_tokens` (else 128); the prompt is cut
to the context (`context_tokens`, default the model's positions) minus it.

Needs the `ml` extra (torch, transformers). Greedy decoding (`do_sample=False`) gives the same actions in a
batch as alone; sampled batches draw from the same distributions but not the same random numbers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prm.agent_protocol import PolicyUnavailable
from prm.agents.local_model import LocalModelAgent
from prm.agents.model import Generation
from prm.agents.prompt import Message

DEFAULT_MAX_NEW_TOKENS = 128
"""Completion budget when neither `max_new_tokens=` nor the model's generation config sets one."""


class TransformersAgent(LocalModelAgent):
    def __init__(
        self,
        model_or_path: Any,
        *,
        tokenizer: Any = None,
        max_new_tokens: int | None = None,
        context_tokens: int | None = None,
        do_sample: bool = True,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = 0,
        device: str = "cpu",
    ):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if isinstance(model_or_path, (str, Path)):
            self.model = AutoModelForCausalLM.from_pretrained(str(model_or_path)).to(device)
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(str(model_or_path))
        elif tokenizer is None:
            raise ValueError("TransformersAgent(model) needs tokenizer= when given a model object")
        else:
            self.model = model_or_path
        positions = getattr(self.model.config, "max_position_embeddings", None) or getattr(
            self.model.config, "n_positions", 2048
        )
        max_new_tokens = (
            max_new_tokens or self.model.generation_config.max_new_tokens or DEFAULT_MAX_NEW_TOKENS
        )
        super().__init__(tokenizer, context_tokens=context_tokens or positions, max_new_tokens=max_new_tokens)
        self.device = device
        self.sampling = {"do_sample": do_sample, "max_new_tokens": max_new_tokens}
        if do_sample:
            self.sampling |= {"temperature": temperature, "top_p": top_p}
        if seed is not None:
            torch.manual_seed(seed)

    def _generate(
        self, chats: list[list[Message]], tools: list[list[dict[str, Any]]]
    ) -> list[Generation | PolicyUnavailable]:
        import torch

        prompts = [self.prompt_ids(chat) for chat in chats]
        width = max(map(len, prompts))
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                pad_token_id=pad,
                eos_token_id=self.tokenizer.eos_token_id,
                return_dict_in_generate=True,
                output_logits=True,
                **self.sampling,
            )
        self.model.train(was_training)
        logprobs = torch.stack(out.logits, dim=1).float().log_softmax(-1)
        new_tokens = out.sequences[:, width:]
        token_logprobs = logprobs.gather(-1, new_tokens.unsqueeze(-1)).squeeze(-1)
        generations: list[Generation | PolicyUnavailable] = []
        for row, prompt in enumerate(prompts):
            ids = new_tokens[row].tolist()
            if self.tokenizer.eos_token_id in ids:
                ids = ids[: ids.index(self.tokenizer.eos_token_id) + 1]
            generations.append(self.token_generation(prompt, ids, token_logprobs[row, : len(ids)].tolist()))
        return generations
