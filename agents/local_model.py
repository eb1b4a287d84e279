"""`LocalModelAgent`: the base of the in-process back ends (`TransformersAgent`, `VLLMAgent`).

Both hold a Hugging Face tokenizer (vLLM's `LLM.get_tokenizer()` is one), so both count tokens, render
prompts and build their per-step records with the same code here: the prompt is the chat template's text
with the assistant's turn opened, tokenized without added special tokens; a record carries the prompt ids,
the completion ids, one log-probability per completion token and the usage counted from those ids. What a
back end adds is only how it generates.

>>> from prm.agents.tiny import train_tokenizer
>>> tokenizer = train_tokenizer(["a tiny corpus of text"] * 4, vocab_size=300)
>>> tokenizer.decode(chat_prompt_ids(tokenizer, [{"role": "user", "content": "hi"}]))
'<|user|>hi<|end|><|assistant|>'
"""

from __future__ import annotations

from typing import Any

from prm.agents.model import Generation, ModelAgent
from prm.agents.prompt import Message


def chat_prompt_ids(tokenizer: Any, chat: list[Message]) -> list[int]:
    """The token ids of `chat` rendered by the tokenizer's chat template, ending with the assistant's turn
    opener (what a local model is given to complete, and what `prm.agents.tiny` fits on)."""
    text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


class LocalModelAgent(ModelAgent):
    """A model agent whose back end runs here with the model's own tokenizer (`self.tokenizer`)."""

    def __init__(self, tokenizer: Any, *, context_tokens: int, max_new_tokens: int):
        super().__init__(context_tokens=context_tokens, max_new_tokens=max_new_tokens)
        if tokenizer.chat_template is None:
            raise ValueError(f"the tokenizer {getattr(tokenizer, 'name_or_path', '')!r} has no chat template")
        self.tokenizer = tokenizer

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def prompt_ids(self, chat: list[Message]) -> list[int]:
        return chat_prompt_ids(self.tokenizer, chat)

    def token_generation(
        self,
        prompt_ids: list[int],
        completion_ids: list[int],
        logprobs: list[float] | None,
        *,
        text: str | None = None,
    ) -> Generation:
        """A step's record: ids, one log-probability per completion token (or None when the back end gave
        none), usage; `text` defaults to the completion decoded without special tokens."""
        if logprobs is not None and len(logprobs) != len(completion_ids):
            raise ValueError(f"{len(logprobs)} log-probabilities for {len(completion_ids)} completion tokens")
        if text is None:
            text = self.tokenizer.decode(completion_ids, skip_special_tokens=True)
        return Generation(
            text=text,
            prompt_ids=list(prompt_ids),
            completion_ids=list(completion_ids),
            logprobs=logprobs,
            usage={"prompt_tokens": len(prompt_ids), "completion_tokens": len(completion_ids)},
        )
