"""The one prompt module every model back end uses: chat messages from the task, the tool manual and history.

A conversation is the env's first observation (the task followed by its tool manual, which every prm env
writes) as the first user turn, then one assistant turn per action and one user turn per observation. The
system prompt says how to act. `Conversation.messages(count_tokens, budget)` fits the chat into a token
budget: it always keeps the system prompt, the task and the latest turns, drops the oldest turns in between
and puts a note where they were; if the task and the latest turn alone are still too long, it cuts the
middle of the longest of them and marks the cut.

>>> chat = Conversation("Guess a number.\\n\\nTools: guess(number)")
>>> chat.add_turn('{"tool": "guess", "args": {"number": 3}}', "too low")
>>> chat.add_turn('{"tool": "guess", "args": {"number": 5}}', "too high")
>>> [m["role"] for m in chat.messages()]
['system', 'user', 'assistant', 'user', 'assistant', 'user']
>>> cut = chat.messages(count_tokens=len, budget=len(SYSTEM_PROMPT) + 150)
>>> [m["content"][:40] for m in cut[1:]]
['Guess a number.\\n\\nTools: guess(number)', '[1 earlier step(s) cut to fit the contex', '{"tool": "guess", "args": {"number": 5}}', 'too high']
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

Message = dict[str, str]

SYSTEM_PROMPT = (
    "You are an agent acting in an environment through tools. Each turn, reply with exactly one tool call "
    'as a JSON object {"tool": "<name>", "args": {...}}, using the tools the task lists. '
    "The next message shows what your call returned."
)
MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat template adds around each message (role markers, separators), counted against the budget."""


def approximate_tokens(text: str) -> int:
    """A tokenizer-free estimate (about 4 characters per token), for endpoints whose tokenizer is unknown."""
    return len(text) // 4 + 1


def chat_tokens(messages: list[Message], count_tokens: Callable[[str], int]) -> int:
    """The token cost of a chat: each message's content plus the template's per-message overhead."""
    return sum(count_tokens(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages)


CUT_MARKER = "\n[... {} characters cut to fit the context ...]\n"


def _cut_middle(text: str, keep_chars: int) -> str:
    head = keep_chars // 2
    tail = keep_chars - head
    return text[:head] + CUT_MARKER.format(len(text) - keep_chars) + text[len(text) - tail :]


@dataclass
class Conversation:
    """One episode's chat: the first observation (task and tool manual), then (action, observation) turns."""

    task: str
    turns: list[tuple[str, str]] = field(default_factory=list)
    system: str = SYSTEM_PROMPT

    def add_turn(self, action: str, observation: str) -> None:
        self.turns.append((action, observation))

    def messages(
        self, count_tokens: Callable[[str], int] = approximate_tokens, budget: int | None = None
    ) -> list[Message]:
        """The chat as OpenAI-style messages, at most `budget` tokens as `count_tokens` measures them."""
        head = [{"role": "system", "content": self.system}, {"role": "user", "content": self.task}]
        turns = [
            [{"role": "assistant", "content": action}, {"role": "user", "content": observation}]
            for action, observation in self.turns
        ]
        if budget is None:
            return head + [message for turn in turns for message in turn]

        def cost(messages: list[Message]) -> int:
            return chat_tokens(messages, count_tokens)

        kept: list[list[Message]] = []
        used = cost(head)
        for turn in reversed(turns):
            if kept and used + cost(turn) > budget:
                break
            kept.insert(0, turn)
            used += cost(turn)
        dropped = len(turns) - len(kept)
        note = (
            [{"role": "user", "content": f"[{dropped} earlier step(s) cut to fit the context]"}]
            if dropped
            else []
        )
        messages = head + note + [message for turn in kept for message in turn]
        return self._shrink_to(messages, count_tokens, budget)

    @staticmethod
    def _shrink_to(messages: list[Message], count_tokens: Callable[[str], int], budget: int) -> list[Message]:
        """Cuts the middle of the longest non-system message until the chat fits (task and latest turn)."""
        messages = [dict(m) for m in messages]
        for _ in range(64):
            over = chat_tokens(messages, count_tokens) - budget
            if over <= 0:
                return messages
            cuttable = [m for m in messages[1:] if len(m["content"]) > 2 * len(CUT_MARKER)]
            if not cuttable:
                break
            longest = max(cuttable, key=lambda m: count_tokens(m["content"]))
            content = longest["content"]
            tokens = max(count_tokens(content), 1)
            keep_chars = int(len(content) * (tokens - over - 16) / tokens) - len(CUT_MARKER)
            longest["content"] = _cut_middle(content, max(keep_chars, len(CUT_MARKER)))
        if chat_tokens(messages, count_tokens) > budget:
            raise ContextOverflowError(
                f"the system prompt and the task do not fit the context budget of {budget} tokens"
            )
        return messages


class ContextOverflowError(ValueError):
    """Even the system prompt and a cut task do not fit the token budget (raise the budget)."""
