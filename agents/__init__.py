"""Agents: turn observations into actions. `Agent` is the protocol; scripted agents ship here."""

from prm.agents.base import Agent, AgentError
from prm.agents.scripted import OracleAgent, ReplayAgent, ScriptedAgent

__all__ = ["Agent", "AgentError", "OracleAgent", "ReplayAgent", "ScriptedAgent"]
