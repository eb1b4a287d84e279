"""Web scenarios: a MiniWoB++ task or an authored app served on loopback, as one YAML file each.

```yaml
# scenarios/web/miniwob/click-button.yaml: the task page's own JavaScript sets the goal and the reward
id: miniwob.click-button
miniwob: click-button
max_steps: 8
```

```yaml
# scenarios/web/apps/todo-add.yaml: an app under scenarios/web/apps/<app>/, graded on its state
id: app.todo-add
app: todo
goal: Add the todo "buy milk" and mark "call mom" as done.
success: "state.items.some(i => i.text === 'buy milk') && state.items.some(i => i.text === 'call mom' && i.done)"
subgoals:
  - {description: "added the todo", observed: "buy milk"}
oracle:
  - {tool: fill, target: "textbox 'New todo'", args: {text: buy milk}}
  - {tool: click, target: "button 'Add'"}
```

An app keeps its state as JSON in `localStorage["app:<app>"]`; `success` is a JavaScript expression over
that object (`state`), evaluated by the grader in a page of the same origin where no app code runs. `answer`
(optional) is the gold answer of an `answer(text)` task, compared after normalising case and spaces. The
`oracle` is the scripted solution: each step is a tool call whose `target`, a `role 'name'` text, is looked up
in the current observation to find the element id. `success`, `answer` and `oracle` are hidden material:
they stay on the host and no served page holds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prm.models import ScenarioBase
from prm.scenario import load_scenario


class OracleStep(BaseModel):
    """One step of an app's scripted solution; `target` becomes the `id` argument."""

    model_config = ConfigDict(extra="forbid")
    tool: str
    target: str | None = Field(default=None, description="`role 'name'` of the element, as the tree shows it")
    args: dict[str, Any] = Field(default_factory=dict)


class WebScenario(ScenarioBase):
    """Exactly one of `miniwob` (a task name of the `miniwob` package) and `app` (a folder of apps/)."""

    miniwob: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9\-]*$")
    app: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9\-]*$")
    start: str = Field(default="index.html", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-/]*$")
    goal: str = ""
    success: str | None = None
    answer: str | None = None
    oracle: list[OracleStep] = Field(default_factory=list)

    @model_validator(mode="after")
    def _one_source(self) -> WebScenario:
        if (self.miniwob is None) == (self.app is None):
            raise ValueError("a web scenario needs exactly one of: miniwob (a task name), app (a folder)")
        if self.app is not None:
            if not self.goal:
                raise ValueError("an app scenario needs a goal (the instruction shown to the agent)")
            if self.success is None and self.answer is None:
                raise ValueError("an app scenario needs a success check, an answer, or both")
            if not self.oracle:
                raise ValueError("an app scenario needs an oracle (its scripted solution)")
        return self

    @property
    def page_path(self) -> str:
        """The start page's path on the page server."""
        if self.miniwob is not None:
            return f"/miniwob/miniwob/{self.miniwob}.html"
        return f"/apps/{self.app}/{self.start}"


def load_scenario_file(path: str | Path) -> WebScenario:
    """Loads one web scenario file; `ScenarioError` names file, field and reason."""
    return load_scenario(path, WebScenario)
