"""Agents: turn observations into actions. `Agent` is the protocol; scripted agents and the model back ends
(`OpenAIChatAgent`, `TransformersAgent`, `VLLMAgent`, all on `prm.agents.prompt`) ship here.

The model back ends import their libraries (openai, torch/transformers, vllm) only when built.
"""

from prm.agent_protocol import Agent, AgentError, PolicyUnavailable
from prm.agents.model import Generation, ModelAgent
from prm.agents.openai_agent import OpenAIChatAgent
from prm.agents.scripted import OracleAgent, ReplayAgent, ScriptedAgent
from prm.agents.spec import AgentSpecError, make_agent
from prm.agents.transformers_agent import TransformersAgent
from prm.agents.vllm_agent import BackendUnavailable, VLLMAgent

__all__ = [
    "Agent",
    "AgentError",
    "AgentSpecError",
    "BackendUnavailable",
    "Generation",
    "ModelAgent",
    "OpenAIChatAgent",
    "OracleAgent",
    "PolicyUnavailable",
    "ReplayAgent",
    "ScriptedAgent",
    "TransformersAgent",
    "VLLMAgent",
    "make_agent",
]
