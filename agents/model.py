"""`ModelAgent`: the base of every language-model back end (OpenAI-compatible endpoint, transformers, vLLM).

A model agent holds one episode's `Conversation` (built by `prm.agents.prompt`) and asks its back end for a
completion each step. A back end implements one method, `_generate(chats, tools) -> list[Generation]`, that
serves many chats in one call. Batching across envs works through sessions: `agent.spawn()` returns a new
agent for another env that shares the model (weights, client), and `agent.act_batch(sessions, observations,
infos)` makes one `_generate` call for all of them. After every `act`, `session.last_call` holds the step's
`PolicyCall` (messages, completion, token ids, log-probabilities, usage, latency), which `prm.rollout`
stores in the trajectory.

A back end that fails (an endpoint that is down or answers garbage, after its retries) yields a
`PolicyUnavailable` instead of an action: an infrastructure failure of that episode, never a zero reward.
What the model writes is never an infrastructure failure: a completion with no parsable call goes to the env
as is, which answers with an explanatory observation.
"""

from __future__ import annotations

import copy
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from prm.agent_protocol import AgentError, PolicyUnavailable
from prm.agents.prompt import Conversation, Message, approximate_tokens
from prm.models import PolicyCall


@dataclass
class Generation:
    """One completion from a back end. `action` is set when the back end already made the env's JSON action
    (native tool calls); otherwise the completion text is the action."""

    text: str
    action: str | None = None
    prompt_ids: list[int] | None = None
    completion_ids: list[int] | None = None
    logprobs: list[float] | None = None
    usage: dict[str, int] = field(default_factory=dict)


class ModelAgent(ABC):
    """Plays an episode with a language model; subclasses supply `_generate` and may override
    `count_tokens` (the default estimates 4 characters per token)."""

    def __init__(self, *, context_tokens: int, max_new_tokens: int):
        if context_tokens <= max_new_tokens:
            raise ValueError(
                f"context_tokens ({context_tokens}) must exceed max_new_tokens ({max_new_tokens})"
            )
        self.context_tokens = context_tokens
        self.max_new_tokens = max_new_tokens
        self.conversation: Conversation | None = None
        self.tool_schemas: list[dict[str, Any]] = []
        self.last_call: PolicyCall | None = None
        self._pending_action: str | None = None

    # --- what a back end supplies ------------------------------------------------------------------
    @abstractmethod
    def _generate(
        self, chats: list[list[Message]], tools: list[list[dict[str, Any]]]
    ) -> list[Generation | PolicyUnavailable]:
        """One completion per chat (same order); a chat whose request failed gets a `PolicyUnavailable`."""

    def count_tokens(self, text: str) -> int:
        return approximate_tokens(text)

    # --- the Agent protocol --------------------------------------------------------------------------
    def spawn(self) -> ModelAgent:
        """A new agent for another env, sharing this one's model and settings but not its conversation."""
        session = copy.copy(self)
        session.conversation, session.last_call, session._pending_action = None, None, None
        return session

    def fork(self) -> ModelAgent:
        """This session continued independently (tree rollouts): the same model, a copy of the conversation."""
        session = copy.copy(self)
        session.conversation = copy.deepcopy(self.conversation)
        return session

    def reset(self, env: gym.Env, observation: Any, info: dict[str, Any]) -> None:
        self.conversation = Conversation(str(observation))
        tools = getattr(env.unwrapped, "tools", [])
        self.tool_schemas = [tool.openai_schema() for tool in tools]
        self.last_call, self._pending_action = None, None

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        (action,) = self.act_batch([self], [observation], [info])
        if isinstance(action, PolicyUnavailable):
            raise action
        return action

    def act_batch(
        self, sessions: Sequence[ModelAgent], observations: Sequence[Any], infos: Sequence[dict[str, Any]]
    ) -> list[str | PolicyUnavailable]:
        """One back-end call for many sessions (each `reset` on its own env): an action per session, or the
        `PolicyUnavailable` that lost it."""
        chats = [
            session._chat_after(observation)
            for session, observation in zip(sessions, observations, strict=True)
        ]
        started = time.perf_counter()
        generations = self._generate(chats, [session.tool_schemas for session in sessions])
        latency = time.perf_counter() - started
        actions: list[str | PolicyUnavailable] = []
        for session, chat, generation in zip(sessions, chats, generations, strict=True):
            if isinstance(generation, PolicyUnavailable):
                session.last_call = None
                actions.append(generation)
                continue
            action = generation.action if generation.action is not None else generation.text
            session._pending_action = action
            session.last_call = PolicyCall(
                messages=chat,
                completion=generation.text,
                prompt_ids=generation.prompt_ids,
                completion_ids=generation.completion_ids,
                logprobs=generation.logprobs,
                usage=generation.usage,
                latency_s=latency,
            )
            actions.append(action)
        return actions

    def _chat_after(self, observation: Any) -> list[Message]:
        if self.conversation is None:
            raise AgentError(f"{type(self).__name__}.act called before reset")
        if self._pending_action is not None:
            self.conversation.add_turn(self._pending_action, str(observation))
            self._pending_action = None
        return self.conversation.messages(self.count_tokens, self.context_tokens - self.max_new_tokens)
