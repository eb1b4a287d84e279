"""Actions are tool calls written as text: `{"tool": "<name>", "args": {...}}` (JSON).

An LLM's reply may wrap the JSON in prose or a ```json fence; the first JSON object in the text is taken.
Each tool declares its arguments as a pydantic model, so a bad call gets a precise, explanatory message
(never an exception out of `step`), and the tool list renders as documentation or as OpenAI function schemas.

>>> from pydantic import BaseModel
>>> class Echo(BaseModel):
...     text: str
>>> tool = Tool("echo", "Repeat text.", Echo, lambda args: ToolResult(args.text))
>>> call = parse_tool_call('I will echo. {"tool": "echo", "args": {"text": "hi"}}')
>>> call.tool, call.args
('echo', {'text': 'hi'})
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError


class ActionError(Exception):
    """The agent's action is malformed or invalid; the message is shown to the agent as the observation."""


@dataclass(frozen=True)
class ToolCall:
    tool: str
    args: dict[str, Any]


@dataclass
class ToolResult:
    """What a tool returns to the env: the observation text, native reward components, whether it ends, the
    files it changed, and family-specific `info` entries."""

    observation: str
    components: dict[str, float] = field(default_factory=dict)
    done: bool = False
    changed_files: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    params: type[BaseModel]
    run: Callable[[Any], ToolResult]

    def signature(self) -> str:
        fields = ", ".join(
            f"{name}{'' if info.is_required() else '?'}" for name, info in self.params.model_fields.items()
        )
        return f"{self.name}({fields})"

    def openai_schema(self) -> dict[str, Any]:
        """The tool as an OpenAI-compatible function definition (for `tools=` in chat completions)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.params.model_json_schema(),
            },
        }


def describe_tools(tools: list[Tool]) -> str:
    """The tool manual shown to the agent in the first observation."""
    lines = ['Act with one tool call per step, as JSON: {"tool": "<name>", "args": {...}}. Tools:']
    lines += [f"- {tool.signature()}: {tool.description}" for tool in tools]
    return "\n".join(lines)


MAX_ACTION_CHARS = 200_000
"""Longer actions are invalid (and not parsed): parsing stays fast whatever a policy emits."""
MAX_PARSE_ATTEMPTS = 20
"""How many `{` positions are tried as the start of the call before giving up (bounds the parse time)."""


def _first_json_object(text: str) -> Any:
    """The first JSON object in `text`, in time linear in its length (at most `MAX_PARSE_ATTEMPTS` tries)."""
    decoder = json.JSONDecoder()
    start = text.find("{")
    first_error: json.JSONDecodeError | None = None
    for _ in range(MAX_PARSE_ATTEMPTS):
        if start == -1:
            break
        try:
            value, _ = decoder.raw_decode(text, start)
            if first_error is None or (isinstance(value, dict) and "tool" in value):
                return value
        except json.JSONDecodeError as err:
            first_error = first_error or err
        except RecursionError:
            raise ActionError("the JSON is nested too deeply") from None
        except ValueError as err:  # e.g. an integer too long to convert
            raise ActionError(f"the JSON holds a value that cannot be read: {err}") from None
        start = text.find("{", start + 1)
    if first_error is not None and first_error.pos >= len(text.rstrip()):  # an inner object was no call
        raise ActionError("the JSON object is not closed (the text ends inside it; a '}' or '\"' is missing)")
    raise ActionError('no JSON object found; write the action as {"tool": "<name>", "args": {...}}')


def parse_tool_call(action: Any) -> ToolCall:
    """Parses an action string into a `ToolCall`; raises `ActionError` explaining what is wrong."""
    if not isinstance(action, str):
        raise ActionError(f"an action must be a string, got {type(action).__name__}")
    if len(action) > MAX_ACTION_CHARS:
        raise ActionError(f"the action is {len(action)} characters long; at most {MAX_ACTION_CHARS} are read")
    value = _first_json_object(action)
    if not isinstance(value, dict) or not isinstance(value.get("tool"), str):
        raise ActionError('the JSON object needs a string field "tool", e.g. {"tool": "bash", "args": {...}}')
    args = value.get("args", {})
    if not isinstance(args, dict):
        raise ActionError(f'"args" must be a JSON object, got {type(args).__name__}')
    return ToolCall(value["tool"], args)


def bind_args(tool: Tool, args: dict[str, Any]) -> BaseModel:
    """Validates a call's arguments against the tool's model; raises `ActionError` naming the bad argument."""
    try:
        return tool.params.model_validate(args)
    except ValidationError as err:
        problems = "; ".join(f"'{'.'.join(map(str, e['loc'])) or 'args'}': {e['msg']}" for e in err.errors())
        raise ActionError(f"bad arguments for {tool.signature()}: {problems}") from err
