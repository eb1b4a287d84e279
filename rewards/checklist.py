"""`Checklist`: V(s) = the fraction of a task's subgoal predicates that hold in state s.

A value estimator for `ProgressReward` / `PotentialShaping` (`progress:checklist`). The subgoals come from the
scenario (a `subgoals:` list, where the family's scenario model declares one: hook `scenario.subgoals`) or
from a YAML file (`progress:checklist:file=goals.yaml`, a list of subgoals). Each subgoal is one predicate:

- `file` + `contains` / `absent`: the workspace file holds (or does not hold) the text (hook `sandbox`);
- `command`: the shell command exits 0, run in a fork of the sandbox (the agent's state is untouched);
- `observed`: the text appeared in an observation so far (hook `history`).

```yaml
- {description: "groupby fixed", file: toolz/itertoolz.py, contains: "key(item)"}
- {description: "module imports", command: "python -c 'import toolz'"}
- {description: "found the band", observed: "Tinted Windows (band)"}
```

>>> Subgoal(description="x", observed="Paris").kind
'observed'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from prm.errors import RewardSpecError


class Subgoal(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str = ""
    file: str | None = None
    contains: str | None = None
    absent: str | None = None
    command: str | None = None
    observed: str | None = None

    @model_validator(mode="after")
    def _one_predicate(self) -> Subgoal:
        kinds = [self.file is not None, self.command is not None, self.observed is not None]
        if sum(kinds) != 1:
            raise ValueError(
                "a subgoal needs exactly one of: file (with contains or absent), command, observed"
            )
        if self.file is not None and (self.contains is None) == (self.absent is None):
            raise ValueError("a file subgoal needs exactly one of contains, absent")
        return self

    @property
    def kind(self) -> str:
        return "file" if self.file is not None else "command" if self.command is not None else "observed"

    def holds(self, env: gym.Env) -> bool:
        base = env.unwrapped
        if self.kind == "observed":
            return any(self.observed in str(observation) for _, observation in base.history)
        if self.kind == "command":
            fork = base.sandbox.fork()
            try:
                return fork.exec(self.command).ok
            finally:
                fork.close()
        try:
            text = base.sandbox.read_file(self.file).decode("utf-8", errors="replace")
        except FileNotFoundError:
            text = ""
        return self.contains in text if self.contains is not None else self.absent not in text


def parse_subgoals(data: Any, source: str) -> list[Subgoal]:
    """Validates a list of subgoal mappings; `RewardSpecError` names the source and the bad entry."""
    if not isinstance(data, list) or not data:
        raise RewardSpecError(f"{source}: subgoals must be a non-empty list")
    try:
        return [Subgoal.model_validate(item) for item in data]
    except ValidationError as err:
        first = err.errors()[0]
        raise RewardSpecError(f"{source}: subgoal {first['loc']}: {first['msg']}") from err


class Checklist:
    """V = fraction of `subgoals` that hold; None reads the scenario's `subgoals` at each reset."""

    only_after_changes = False

    def __init__(self, subgoals: list[Subgoal] | None = None):
        self.subgoals = subgoals

    @classmethod
    def from_file(cls, path: str | Path) -> Checklist:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as err:
            raise RewardSpecError(f"checklist file {path}: cannot read: {err}") from err
        return cls(parse_subgoals(data, str(path)))

    def check(self, env: gym.Env) -> None:
        if self.subgoals is None and not hasattr(type(env.unwrapped), "scenario"):
            raise RewardSpecError(
                f"progress:checklist needs subgoals: give file=PATH, or a scenario with a 'subgoals' list "
                f"({type(env.unwrapped).__name__} has no scenario hook)"
            )

    def _subgoals(self, env: gym.Env) -> list[Subgoal]:
        if self.subgoals is not None:
            return self.subgoals
        declared = getattr(env.unwrapped.scenario, "subgoals", None)
        if not declared:
            raise RewardSpecError("progress:checklist: the scenario declares no subgoals; give file=PATH")
        return parse_subgoals(
            [g.model_dump() if isinstance(g, BaseModel) else g for g in declared], "scenario.subgoals"
        )

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float:
        subgoals = self._subgoals(env)
        return sum(goal.holds(env) for goal in subgoals) / len(subgoals)
