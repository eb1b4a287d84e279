"""Typed records of prm-gym: a step, a trajectory and its JSONL lines, and the base of every scenario.

A trajectory file is JSON Lines: one `TrajectoryHeader` line, one `StepRecord` line per step, and a final
`OutcomeRecord` line (absent only when the run was cut off). Every line carries `type` so a reader can dispatch.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class TrajectoryHeader(BaseModel):
    """What is needed to re-create the episode: env id, make() kwargs, scenario, seed, version, rewards.

    `scenario_id` is the reference given (a packaged id or a file path, or the id the env drew); for a file,
    `scenario_path` and `scenario_sha256` make it resolvable from any directory and detect a changed file.
    A branch of a tree rollout records `parent_id` and `branch_step`; its first `branch_step` steps are the
    parent's."""

    type: Literal["header"] = "header"
    env_id: str
    scenario_id: str
    scenario_path: str | None = Field(
        default=None,
        description="absolute path of the scenario file (when it was a file), for replay anywhere",
    )
    scenario_sha256: str | None = Field(default=None, description="content hash of that file")
    seed: int | None = None
    prm_version: str
    env_kwargs: dict[str, Any] = Field(default_factory=dict)
    reward_config: list[str] = Field(
        default_factory=list, description="reward specs, e.g. ['lsp', 'gated:threshold=1']"
    )
    initial_observation: Any = ""
    reset_info: dict[str, Any] = Field(default_factory=dict)
    episode_id: str | None = Field(
        default=None, description="id of the episode in a tree rollout (branches name their parent by it)"
    )
    parent_id: str | None = Field(default=None, description="tree rollouts: the episode this one forked from")
    branch_step: int | None = Field(
        default=None, description="tree rollouts: steps the parent had taken when it forked (shared prefix)"
    )


class PolicyCall(BaseModel):
    """What a model agent did for one step, as a trainer needs it: the prompt messages, the raw completion,
    token ids and per-token log-probabilities of the completion (local models), usage and latency."""

    messages: list[dict[str, str]]
    completion: str
    prompt_ids: list[int] | None = None
    completion_ids: list[int] | None = None
    logprobs: list[float] | None = None
    usage: dict[str, int] = Field(default_factory=dict)
    latency_s: float = 0.0


class StepRecord(BaseModel):
    """One `env.step(action)`: the action, what came back, and the reward split into named components."""

    type: Literal["step"] = "step"
    index: int
    action: str
    observation: Any
    reward: float
    reward_components: dict[str, float] = Field(default_factory=dict)
    terminated: bool = False
    truncated: bool = False
    info: dict[str, Any] = Field(default_factory=dict)
    policy: PolicyCall | None = None


class OutcomeRecord(BaseModel):
    """How the episode ended: the family's outcome (e.g. `resolved`, `f1`), its return and its length."""

    type: Literal["outcome"] = "outcome"
    outcome: dict[str, Any] | None = None
    total_reward: float = 0.0
    num_steps: int = 0
    infra_error: bool = False


class Trajectory(BaseModel):
    """A whole recorded episode, as `prm.load_trajectory` returns it."""

    header: TrajectoryHeader
    steps: list[StepRecord] = Field(default_factory=list)
    outcome: OutcomeRecord | None = None

    @property
    def actions(self) -> list[str]:
        return [step.action for step in self.steps]

    @property
    def rewards(self) -> list[float]:
        return [step.reward for step in self.steps]


class Subgoal(BaseModel):
    """One subgoal predicate of a task (read by the `Checklist` progress estimator), exactly one of:
    `file` with `contains` or `absent` (the workspace file holds / lacks the text), `command` (exits 0 in a
    fork of the sandbox), or `observed` (the text appeared in an observation so far).

    >>> Subgoal(description="found the band", observed="Tinted Windows (band)").kind
    'observed'
    """

    model_config = ConfigDict(extra="forbid")
    description: str = ""
    file: str | None = None
    contains: str | None = None
    absent: str | None = None
    command: str | None = None
    observed: str | None = None

    @model_validator(mode="after")
    def _one_predicate(self) -> Subgoal:
        if sum(x is not None for x in (self.file, self.command, self.observed)) != 1:
            raise ValueError(
                "a subgoal needs exactly one of: file (with contains or absent), command, observed"
            )
        if self.file is not None and (self.contains is None) == (self.absent is None):
            raise ValueError("a file subgoal needs exactly one of contains, absent")
        return self

    @property
    def kind(self) -> str:
        return "file" if self.file is not None else "command" if self.command is not None else "observed"


class ScenarioBase(BaseModel):
    """Fields every scenario file has. Families subclass it; unknown fields are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")
    max_steps: int = Field(default=40, ge=1)
    subgoals: list[Subgoal] = Field(default_factory=list, description="checkpoints for `progress:checklist`")
