"""Tiny language models built here, with no model hub: for tests, benchmarks and trying the training loop.

`build_tiny_model(trajectories, out)` trains a byte-level BPE tokenizer (the `tokenizers` library) on the
envs' own text (system prompt, tool manuals, tasks, actions, observations of the given trajectories), gives it
a chat template, and builds a 2-layer Llama-like model from a config with random weights. `fit_on_trajectories` then
fits it for a few seconds on the trajectories' prompts (as `prm.agents.prompt` renders them) with the loss on
the action tokens only, so that it writes valid tool calls. Both are saved with `save_pretrained`, so
`TransformersAgent(out)` and `prm run --agent hf:OUT` load them.

>>> import gymnasium as gym, prm
>>> from prm.agents import OracleAgent
>>> from prm.rollout import rollout
>>> oracle = rollout("prm/search-qa-v0", OracleAgent(), episodes=8, show_progress=False)  # doctest: +SKIP
>>> model, tokenizer = build_tiny_model(oracle, "tiny-random")  # doctest: +SKIP
>>> fit_on_trajectories(model, tokenizer, oracle, steps=150).save("tiny-fitted")  # doctest: +SKIP
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prm.agents.local_model import chat_prompt_ids
from prm.agents.prompt import SYSTEM_PROMPT, Conversation, Message
from prm.models import Trajectory

SPECIAL_TOKENS = ["<|pad|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
CONTEXT_TOKENS = 384
"""The tiny model's context: prompts are cut to it (minus the completion) by `prm.agents.prompt`."""
MAX_NEW_TOKENS = 40


def trajectory_texts(trajectories: Sequence[Trajectory]) -> Iterator[str]:
    """Every text an agent meets in these episodes: the system prompt, tasks with tool manuals, actions and
    observations."""
    yield SYSTEM_PROMPT
    for trajectory in trajectories:
        yield str(trajectory.header.initial_observation)
        for step in trajectory.steps:
            yield step.action
            yield str(step.observation)


def train_tokenizer(texts: Sequence[str] | Iterator[str], vocab_size: int = 2048) -> Any:
    """A byte-level BPE tokenizer trained on `texts`, with the chat template's special tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<|pad|>", eos_token="<|end|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_tiny_model(
    trajectories: Sequence[Trajectory],
    out: str | Path | None = None,
    *,
    layers: int = 2,
    hidden: int = 96,
    context_tokens: int = CONTEXT_TOKENS,
    max_new_tokens: int = MAX_NEW_TOKENS,
    seed: int = 0,
) -> tuple[Any, Any]:
    """A random-weight Llama-like model (`layers` x `hidden`, rotary positions) and a tokenizer trained on the
    trajectories' text; saved to `out` when given. `context_tokens` and `max_new_tokens` are stored in its
    config and generation config (what `TransformersAgent` and `fit_on_trajectories` take as defaults):
    raise them for envs whose actions are long (a SWE `edit` is 100-200 tokens)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(trajectory_texts(trajectories))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        max_position_embeddings=context_tokens,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=4,
        bos_token_id=tokenizer.eos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.max_new_tokens = max_new_tokens
    if out is not None:
        TinyModel(model, tokenizer).save(out)
    return model, tokenizer


@dataclass
class TinyModel:
    model: Any
    tokenizer: Any

    def save(self, out: str | Path) -> Path:
        self.model.save_pretrained(out)
        self.tokenizer.save_pretrained(out)
        return Path(out)


def action_examples(
    tokenizer: Any,
    trajectories: Sequence[Trajectory],
    *,
    context_tokens: int = CONTEXT_TOKENS,
    max_new_tokens: int = MAX_NEW_TOKENS,
) -> list[tuple[list[int], list[int]]]:
    """(prompt ids, action ids + end token) for every step, the prompt cut to `context_tokens -
    max_new_tokens` like an agent's would be, the action to `max_new_tokens`."""
    examples = []
    budget = context_tokens - max_new_tokens

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    for trajectory in trajectories:
        chat = Conversation(str(trajectory.header.initial_observation))
        for step in trajectory.steps:
            messages: list[Message] = chat.messages(count, budget)
            prompt = chat_prompt_ids(tokenizer, messages)
            action = tokenizer(step.action, add_special_tokens=False)["input_ids"][: max_new_tokens - 1]
            examples.append((prompt, [*action, tokenizer.eos_token_id]))
            chat.add_turn(step.action, str(step.observation))
    return examples


def fit_on_trajectories(
    model: Any,
    tokenizer: Any,
    trajectories: Sequence[Trajectory],
    *,
    steps: int = 150,
    max_seconds: float = 60.0,
    batch_size: int = 8,
    learning_rate: float = 1e-2,
    prompt_tail: int | None = 48,
    until_loss: float | None = None,
    seed: int = 0,
) -> TinyModel:
    """Fits `model` to write the trajectories' actions (cross-entropy on action tokens only) for `steps`
    updates or `max_seconds`, whichever comes first, or until a batch's loss is below `until_loss`. Prompts
    are rendered within the model's context (`config.max_position_embeddings`) minus its
    `generation_config.max_new_tokens`, as an agent's are. Each prompt is cut to its last `prompt_tail` tokens
    to keep the fit short (rotary positions make that carry over to whole prompts); `prompt_tail=None` fits
    on whole prompts, which is what tells apart scenarios whose prompts end alike (every SWE task ends with
    the same tool manual)."""
    import torch

    pairs = action_examples(
        tokenizer,
        trajectories,
        context_tokens=model.config.max_position_embeddings,
        max_new_tokens=model.generation_config.max_new_tokens or MAX_NEW_TOKENS,
    )
    examples = [(prompt[-(prompt_tail or len(prompt)) :], action) for prompt, action in pairs]
    rng = random.Random(seed)
    torch.manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    model.train()
    deadline = time.monotonic() + max_seconds
    for _ in range(steps):
        batch = rng.sample(examples, min(batch_size, len(examples)))
        width = max(len(p) + len(c) for p, c in batch)
        ids = torch.full((len(batch), width), tokenizer.pad_token_id)
        labels = torch.full((len(batch), width), -100)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, (prompt, completion) in enumerate(batch):
            sequence = prompt + completion
            ids[row, : len(sequence)] = torch.tensor(sequence)
            labels[row, len(prompt) : len(sequence)] = torch.tensor(completion)
            attention[row, : len(sequence)] = 1
        loss = model(input_ids=ids, attention_mask=attention, labels=labels).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if time.monotonic() > deadline or (until_loss is not None and loss.item() < until_loss):
            break
    model.eval()
    return TinyModel(model, tokenizer)
