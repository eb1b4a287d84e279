"""The GUI scenario file: an instruction, the files and applications of the start state, the checks of the
outcome on real application output, subgoals for `progress:checklist`, and a scripted oracle.

```yaml
id: mousepad-greeting
instruction: Write "Hello, world" into notes.txt in the open text editor and save it.
files: {notes.txt: ""}                    # placed in /workspace before the applications start
apps:                                     # started in order; each must show a window whose title has `title`
  - {name: mousepad, command: mousepad /workspace/notes.txt, title: notes.txt}
checks:                                   # all must hold for outcome 1.0 (hidden: never shown to the agent)
  - {file: notes.txt, equals: "Hello, world"}
subgoals:                                 # prm.models.Subgoal: file / command / observed
  - {description: typed, observed: "Hello, world"}
  - {description: saved, file: notes.txt, contains: "Hello, world"}
oracle:                                   # tool calls through the agent's own tools (hidden)
  - {tool: type, args: {text: "Hello, world"}}
  - {tool: key, args: {combo: ctrl+s}}
  - {tool: done, args: {}}
```

A check is exactly one of: `file` (+ `equals` or `contains`: the saved text file), `cell` (+ `file`, `equals`:
the value Gnumeric's `ssconvert` reads from a saved spreadsheet, e.g. `{cell: B4, file: book.gnumeric, equals:
"60"}`), `clipboard` (+ `equals`: the X clipboard), `answer` (+ `equals` or `contains`: the text of `done`).

Example:
    >>> from prm.envs.gui.scenario import load_gui_scenario
    >>> load_gui_scenario("mousepad-greeting").apps[0].name
    'mousepad'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from prm.models import ScenarioBase
from prm.scenario import load_scenario, packaged_scenarios, resolve_scenario, scenario_files

FAMILY = "gui"
CELL = re.compile(r"^(?P<column>[A-Z]{1,2})(?P<row>[1-9][0-9]{0,4})$")


class App(BaseModel):
    """An application started at reset: `command` runs in /workspace on the display; the start waits until a
    window whose title contains `title` is shown."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_-]*$")
    command: str = Field(min_length=1)
    title: str = Field(min_length=1)
    timeout_s: float = Field(default=120.0, gt=0, le=300)


class Check(BaseModel):
    """One outcome predicate on real application output (see the module docstring for the kinds)."""

    model_config = ConfigDict(extra="forbid")
    file: str | None = None
    cell: str | None = None
    clipboard: bool = False
    answer: bool = False
    equals: str | None = None
    contains: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Check:
        kinds = [self.cell is not None, self.clipboard, self.answer]
        if sum(kinds) > 1 or (not any(kinds) and self.file is None):
            raise ValueError("a check is exactly one of: file, cell (with file), clipboard, answer")
        if self.cell is not None and (self.file is None or CELL.match(self.cell) is None):
            raise ValueError("a cell check needs `file` and a cell reference like B4")
        if (self.equals is None) == (self.contains is None):
            raise ValueError("a check needs exactly one of equals, contains")
        return self

    @property
    def kind(self) -> str:
        return "cell" if self.cell else "clipboard" if self.clipboard else "answer" if self.answer else "file"

    def matches(self, value: str | None) -> bool:
        """Whether `value` (the file text, cell value, clipboard or answer) satisfies the check."""
        if value is None:
            return False
        if self.equals is not None:
            return value.strip() == self.equals.strip()
        return self.contains in value


class OracleCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)


class GuiScenario(ScenarioBase):
    """A `prm/gui-v0` scenario (the format is in the module docstring)."""

    instruction: str = Field(min_length=1)
    files: dict[str, str] = Field(default_factory=dict, description="workspace path -> text")
    apps: list[App] = Field(min_length=1)
    checks: list[Check] = Field(min_length=1)
    oracle: list[OracleCall] = Field(min_length=1)
    max_steps: int = Field(default=20, ge=1)

    @field_validator("files")
    @classmethod
    def _relative_paths(cls, files: dict[str, str]) -> dict[str, str]:
        for path in files:
            if path.startswith("/") or ".." in Path(path).parts or not path.strip():
                raise ValueError(f"file path {path!r} must be relative to /workspace, without '..'")
        return files

    @model_validator(mode="after")
    def _oracle_ends_with_done(self) -> GuiScenario:
        if self.oracle[-1].tool != "done":
            raise ValueError("oracle: the last call must be done")
        return self


def scenario_ids() -> list[str]:
    """The ids of the packaged pack (`scenarios/gui/`)."""
    return [path.stem for path in scenario_files(packaged_scenarios(FAMILY))]


def load_gui_scenario(ref: str | Path) -> GuiScenario:
    """Loads a scenario by packaged id or file path; a bad file is a `ScenarioError` naming file and field."""
    return load_scenario(resolve_scenario(FAMILY, ref), GuiScenario)
