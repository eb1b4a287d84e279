"""Agent specs, as `prm run --agent` takes them: `oracle`, `oracle:detour` (adds and fixes a type error before
the gold edit, so step signals move visibly), `replay:FILE`, `openai:MODEL`, `hf:PATH`, `vllm:PATH`.

>>> type(make_agent("oracle")).__name__
'OracleAgent'
>>> make_agent("gpt:4")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
...
prm.agents.spec.AgentSpecError: unknown agent 'gpt:4'; use oracle, oracle:detour, replay:FILE, openai:MODEL, hf:PATH or vllm:PATH
"""

from __future__ import annotations

from typing import Any

from prm.agent_protocol import Agent

SPECS = "oracle, oracle:detour, replay:FILE, openai:MODEL, hf:PATH or vllm:PATH"


class AgentSpecError(ValueError):
    """An agent spec that names no known agent, or lacks its argument."""


def make_agent(spec: str, *, base_url: str | None = None, **options: Any) -> Agent:
    """The agent a spec names. `base_url` goes to `openai:` agents; `options` to the model agent's
    constructor (e.g. `temperature`, `max_new_tokens`)."""
    kind, _, arg = spec.partition(":")
    if kind == "oracle" and arg in ("", "detour"):
        from prm.agents.scripted import OracleAgent

        return OracleAgent(detour=arg == "detour")
    if not arg or kind not in {"replay", "openai", "hf", "vllm"}:
        raise AgentSpecError(f"unknown agent '{spec}'; use {SPECS}")
    if kind == "replay":
        from prm.agents.scripted import ReplayAgent
        from prm.trajectory import load_trajectory

        return ReplayAgent(load_trajectory(arg))
    if kind == "openai":
        from prm.agents.openai_agent import OpenAIChatAgent

        return OpenAIChatAgent(arg, base_url=base_url, **options)
    if kind == "hf":
        from prm.agents.transformers_agent import TransformersAgent

        return TransformersAgent(arg, **options)
    from prm.agents.vllm_agent import VLLMAgent

    return VLLMAgent(arg, **options)
