"""`Checklist`: V(s) = the fraction of a task's subgoal predicates that hold in state s.

A value estimator for `ProgressReward` / `PotentialShaping` (`progress:checklist`). The subgoals come from the
scenario (its `subgoals:` list, a field every scenario file may have: `prm.models.Subgoal`) or from a YAML
file (`progress:checklist:file=goals.yaml`, a list of subgoals). Each subgoal is one predicate:

- `file` + `contains` / `absent`: the workspace file holds (or does not hold) the text (hook `sandbox`);
- `command`: the shell command exits 0, run in a fork of the sandbox (the agent's state is untouched);
- `observed`: the text appeared in an observation so far (hook `history`).

```yaml
- {description: "groupby fixed", file: toolz/itertoolz.py, contains: "key(item)"}
- {description: "module imports", command: "python -c 'import toolz'"}
- {description: "found the band", observed: "Tinted Windows (band)"}
```

>>> Checklist([Subgoal(description="x", observed="Paris")]).subgoals[0].kind
'observed'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml
from pydantic import ValidationError

from prm.errors import RewardSpecError
from prm.models import Subgoal


def subgoal_holds(goal: Subgoal, env: gym.Env) -> bool:
    """Whether `goal` holds in the env's current state (hooks: `history`, `sandbox`)."""
    base = env.unwrapped
    if goal.kind == "observed":
        return any(goal.observed in str(observation) for _, observation in base.history)
    if goal.kind == "command":
        fork = base.sandbox.fork()
        try:
            return fork.exec(goal.command).ok
        finally:
            fork.close()
    try:
        text = base.sandbox.read_file(goal.file).decode("utf-8", errors="replace")
    except FileNotFoundError:
        text = ""
    return goal.contains in text if goal.contains is not None else goal.absent not in text


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
        declared = env.unwrapped.scenario.subgoals
        if not declared:
            raise RewardSpecError("progress:checklist: the scenario declares no subgoals; give file=PATH")
        return declared

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float:
        subgoals = self._subgoals(env)
        return sum(subgoal_holds(goal, env) for goal in subgoals) / len(subgoals)
