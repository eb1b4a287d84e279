"""`PrmEnv`: the base class of every environment family, which holds the step contract in one place.

A family subclasses it and supplies `_start` (build the episode's state, return the task text), `_tools`
(the tool list) and `_grade` (the outcome when the episode ends). `PrmEnv.step` does the rest:

- parses the action (`prm.tools`); a malformed call is a counted step whose observation explains the error,
  with `info["error"]` set and the component `invalid_action = 1.0`;
- runs the tool; a `SandboxError` (the sandbox, browser or server failed, not the agent) ends the episode with
  `truncated=True` and `info["infra_error"] = True`, so a trainer can drop it instead of learning a zero;
- ends with `terminated=True` when a tool says so (submit/answer), `truncated=True` on the step budget;
- a sandbox killed by what the agent's own commands did (`SandboxKilledFromInside`) is not an infrastructure
  failure: the episode ends (`terminated=True`), is graded, and `info["agent_killed_sandbox"]` is True;
- caps every observation at `MAX_OBSERVATION_CHARS` and every error message at `MAX_ERROR_CHARS`
  (the middle is cut and marked), whatever the tool or the action echoed, and `changed_files` at
  `MAX_CHANGED_FILES` paths (`changed_files_cut` counts the rest);
- puts `reward_components`, `tool`, `error`, `infra_error`, `changed_files`, `agent_killed_sandbox` and
  `step` in every `info` (plus what a tool adds, e.g. `outside_writes` in the SWE family), and `outcome` at
  the end. `reward = sum(weight[name] * value)` over the components, with the family's default
  weights (outcome only) unless `reward_weights=` says otherwise.

Hooks for reward wrappers (the only env facts a wrapper may read): `fork()`, `scenario`, `sandbox`, `task`,
`gold_answer()`, `history`; each family documents which it supports.
"""

from __future__ import annotations

import time
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import gymnasium as gym

from prm.errors import SandboxError, SandboxKilledFromInside, ScenarioError
from prm.models import ScenarioBase
from prm.scenario import packaged_scenarios, scenario_files
from prm.spaces import Unicode
from prm.tools import ActionError, Tool, ToolResult, bind_args, describe_tools, parse_tool_call

MAX_OBSERVATION_CHARS = 20_000
"""No observation is longer (tools cut their own output earlier; this bounds what any echo can cost)."""
MAX_ERROR_CHARS = 2_000
MAX_CHANGED_FILES = 10_000
"""`info["changed_files"]` lists at most this many paths (the first, sorted); `info["changed_files_cut"]` says
how many more there were, so a step that creates a million files cannot flood trajectories and wrappers."""


def cap_text(text: str, limit: int) -> str:
    """`text`, or its head and tail around a marker saying how many characters were cut.

    >>> cap_text("a" * 10 + "b" * 10, 12)
    'aaaaaa\\n[... 8 characters cut ...]\\nbbbbbb'
    """
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


class CatalogEntry(NamedTuple):
    """One packaged scenario as `prm list FAMILY` shows it."""

    id: str
    split: str
    title: str


class PrmEnv(gym.Env[str, str]):
    """Base env: text observations and actions, tool calls, the info contract, step budgets."""

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"]}
    default_reward_weights: ClassVar[dict[str, float]] = {"outcome": 1.0}
    scenario_family: ClassVar[str] = ""
    """The folder of this family's packaged scenario pack (`scenarios/<family>/`)."""
    scenario: ScenarioBase | None = None
    """Hook: the current episode's scenario (e.g. its `subgoals` for `progress:checklist`)."""

    def __init__(
        self,
        *,
        max_steps: int | None = None,
        reward_weights: dict[str, float] | None = None,
        render_mode: str | None = None,
    ):
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.render_mode = render_mode
        self.observation_space = Unicode()
        self.action_space = Unicode()
        self.max_steps = max_steps
        self.reward_weights = {**self.default_reward_weights, **(reward_weights or {})}
        self.task: str = ""
        self.history: list[tuple[str, str]] = []
        self._last_observation = ""
        self._done = True

    # --- what a family supplies -------------------------------------------------------------------
    @abstractmethod
    def _start(self, seed: int | None, options: dict[str, Any]) -> str:
        """Builds the episode's state and returns the task text shown to the agent."""

    @abstractmethod
    def _tools(self) -> list[Tool]:
        """The tools the agent may call."""

    @abstractmethod
    def _grade(self) -> dict[str, Any]:
        """The outcome of the finished episode; must hold `reward` (the outcome reward, a float)."""

    def _step_budget(self) -> int:
        return self.max_steps or 40

    @classmethod
    def scenario_ids(cls, source: str | Path | None = None) -> list[str]:
        """What `scenario=` accepts: with no `source`, the ids of the pack that ships with prm-gym for this
        family (`prm list` shows them); with a directory, the scenario files under it (`prm run` cycles them)."""
        if source is None:
            return [path.stem for path in scenario_files(packaged_scenarios(cls.scenario_family))]
        return [str(path) for path in scenario_files(source)]

    @classmethod
    def scenario_catalog(cls) -> list[CatalogEntry]:
        """Every packaged scenario with its split and a short title (`prm list FAMILY`); families that know
        more than the ids override it."""
        return [CatalogEntry(scenario_id, "", "") for scenario_id in cls.scenario_ids()]

    def draw_scenario_id(self) -> str:
        """A packaged scenario id drawn from the env's seeded generator: what a family plays per `reset` when
        made without `scenario=` (the same seed draws the same scenario)."""
        ids = self.scenario_ids()
        if not ids:
            raise ScenarioError(type(self).__name__, "scenario", "no packaged scenarios: pass scenario=")
        return ids[int(self.np_random.integers(len(ids)))]

    # --- hooks --------------------------------------------------------------------------------------
    def gold_answer(self) -> str:
        """The gold answer of the task (families with one); hidden material: never shown to the agent."""
        raise NotImplementedError(f"{type(self).__name__} has no gold answer")

    def fork(self) -> PrmEnv:
        """A new env at this env's current state, independent afterwards."""
        raise NotImplementedError(f"{type(self).__name__} cannot fork")

    # --- the gymnasium API ---------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        super().reset(seed=seed)
        self.task = self._start(seed, options or {})
        self.history = []
        self._steps = 0
        self._started_at = time.monotonic()
        self._done = False
        self._tool_index = {tool.name: tool for tool in self._tools()}
        self._last_observation = f"{self.task}\n\n{describe_tools(list(self._tool_index.values()))}"
        return self._last_observation, {"tools": list(self._tool_index), "max_steps": self._step_budget()}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        info: dict[str, Any] = {"tool": None, "error": None, "infra_error": False, "changed_files": []}
        info["agent_killed_sandbox"] = False
        terminated = truncated = False
        try:
            call = parse_tool_call(action)
            info["tool"] = call.tool
            tool = self._tool_index.get(call.tool)
            if tool is None:
                raise ActionError(f"unknown tool '{call.tool}'; tools: {', '.join(self._tool_index)}")
            result = tool.run(bind_args(tool, call.args))
        except ActionError as err:
            message = cap_text(str(err), MAX_ERROR_CHARS)
            result = ToolResult(f"Invalid action: {message}", components={"invalid_action": 1.0})
            info["error"] = message
        except SandboxKilledFromInside as err:
            result = ToolResult(f"Your commands killed the sandbox; the episode ends and is graded: {err}")
            result.done = True
            info["error"], info["agent_killed_sandbox"] = str(err), True
        except SandboxError as err:
            result = ToolResult(f"Infrastructure failure (not your fault), episode ends: {err}")
            info["error"], info["infra_error"] = str(err), True
        self._steps += 1
        result.observation = cap_text(result.observation, MAX_OBSERVATION_CHARS)
        info |= result.info
        info["changed_files"] = result.changed_files[:MAX_CHANGED_FILES]
        if len(result.changed_files) > MAX_CHANGED_FILES:
            info["changed_files_cut"] = len(result.changed_files) - MAX_CHANGED_FILES
        components = dict(result.components)
        if info["infra_error"]:
            truncated = True
            info["outcome"] = {"reward": None, "infra_error": info["error"]}
        elif result.done or self._steps >= self._step_budget():
            info["outcome"] = self._grade_safely(info)
            terminated, truncated = (
                result.done and not info["infra_error"],
                not result.done or info["infra_error"],
            )
            if not info["infra_error"]:
                components["outcome"] = float(info["outcome"]["reward"])
        info["reward_components"] = components
        info["step"] = self._steps
        self._done = terminated or truncated
        self.history.append((action, result.observation))
        self._last_observation = result.observation
        reward = sum(self.reward_weights.get(name, 0.0) * value for name, value in components.items())
        return result.observation, float(reward), terminated, truncated, info

    def _grade_safely(self, info: dict[str, Any]) -> dict[str, Any]:
        """Grades a truncated episode (the outcome still matters to trainers); infra failures are flagged."""
        try:
            return self._grade()
        except SandboxError as err:
            info["error"], info["infra_error"] = f"grading failed: {err}", True
            return {"reward": None, "infra_error": info["error"]}

    def render(self) -> str | None:
        return self._last_observation if self.render_mode == "ansi" else None

    @property
    def tools(self) -> list[Tool]:
        """The tools of the current episode (after `reset`)."""
        return list(self._tool_index.values())
