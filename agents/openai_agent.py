"""`OpenAIChatAgent`: any OpenAI-compatible chat endpoint (`vllm serve`, hosted APIs) as the policy.

The env's tools go to the endpoint as function-calling schemas (`Tool.openai_schema()`); a native tool call
comes back as the env's JSON action, a plain-text reply goes to the env as is (the env's parser finds the
JSON call in it, or explains what is wrong). The `openai` client retries connection errors, timeouts, 429 and
5xx answers `max_retries` times with exponential backoff; what still fails, and any answer that is not a chat
completion, is a `PolicyUnavailable` (the episode is an infrastructure failure). Usage and latency are
recorded per step. A batch sends one request per env, concurrently (the server batches them).

>>> from prm.agents import OpenAIChatAgent
>>> agent = OpenAIChatAgent("Qwen/Qwen2.5-7B-Instruct", base_url="http://localhost:8000/v1")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from prm.agent_protocol import PolicyUnavailable
from prm.agents.model import Generation, ModelAgent
from prm.agents.prompt import Message


def native_action(name: str, arguments: str) -> str:
    """The env's JSON action for a native tool call; arguments that are not a JSON object are passed on
    verbatim so that the env explains the problem to the agent.

    >>> native_action("search", '{"query": "Tulsa"}')
    '{"tool": "search", "args": {"query": "Tulsa"}}'
    """
    try:
        args = json.loads(arguments or "{}")
    except json.JSONDecodeError:
        args = None
    if not isinstance(args, dict):
        return f'{{"tool": {json.dumps(name)}, "args": {arguments}}}'
    return json.dumps({"tool": name, "args": args})


class OpenAIChatAgent(ModelAgent):
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 60.0,
        max_retries: int = 3,
        temperature: float = 0.0,
        max_new_tokens: int = 512,
        context_tokens: int = 8192,
        native_tools: bool = True,
        concurrency: int = 16,
    ):
        import openai

        super().__init__(context_tokens=context_tokens, max_new_tokens=max_new_tokens)
        self.model = model
        self.client = openai.OpenAI(
            base_url=base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY",
            timeout=timeout,
            max_retries=max_retries,
        )
        self.temperature = temperature
        self.native_tools = native_tools
        self.concurrency = concurrency

    def _generate(
        self, chats: list[list[Message]], tools: list[list[dict[str, Any]]]
    ) -> list[Generation | PolicyUnavailable]:
        with ThreadPoolExecutor(max_workers=max(1, min(self.concurrency, len(chats)))) as pool:
            return list(pool.map(self._complete, chats, tools))

    def _complete(self, chat: list[Message], tools: list[dict[str, Any]]) -> Generation | PolicyUnavailable:
        import openai

        request: dict[str, Any] = {
            "model": self.model,
            "messages": chat,
            "temperature": self.temperature,
            "max_tokens": self.max_new_tokens,
        }
        if self.native_tools and tools:
            request["tools"] = tools
        where = f"endpoint {self.client.base_url}"
        try:
            response = self.client.chat.completions.create(**request)
            message = response.choices[0].message
            usage = (
                response.usage.model_dump(include={"prompt_tokens", "completion_tokens"})
                if response.usage
                else {}
            )
        except openai.APIStatusError as err:
            return PolicyUnavailable(
                f"{where} answered HTTP {err.status_code}: {err.message}", status=err.status_code
            )
        except openai.APIError as err:
            return PolicyUnavailable(f"{where} failed: {type(err).__name__}: {err}")
        except (AttributeError, IndexError, TypeError, ValueError) as err:
            return PolicyUnavailable(f"{where} answered something that is not a chat completion: {err}")
        if message.tool_calls:
            call = message.tool_calls[0]
            text = message.content or ""
            return Generation(
                text=text or native_action(call.function.name, call.function.arguments),
                action=native_action(call.function.name, call.function.arguments),
                usage=usage,
            )
        return Generation(text=message.content or "", usage=usage)
