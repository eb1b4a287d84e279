"""A small real env for the reward-wrapper tests: a Python package in a `LocalSandbox`, edited by tools.

Tools: `write(path, text)` (changes a file), `remove(path)`, `view(path)`, `submit()` (the outcome reward is 1.0 when
`check_add.py` exits 0). Hooks: `sandbox`, `fork()`, `run_tests(ids)`
(each id is a shell command run in a fork; True when it exits 0), `scenario.tests`, `oracle_actions()`.
"""

from __future__ import annotations

import json
import shlex
from types import SimpleNamespace
from typing import Any, ClassVar

from pydantic import BaseModel

from prm.env import PrmEnv
from prm.sandboxes import LocalSandbox
from prm.tools import Tool, ToolResult

FILES = {
    "pkg/__init__.py": "",
    "pkg/calc.py": "def add(a: int, b: int) -> int:\n    return a - b\n\n\ndef double(x: int) -> int:\n    return 2 * x\n",
    "check_add.py": "from pkg.calc import add\nassert add(2, 3) == 5\n",
    "check_double.py": "from pkg.calc import double\nassert double(4) == 8\n",
}
FIXED = FILES["pkg/calc.py"].replace("a - b", "a + b")


class WriteArgs(BaseModel):
    path: str
    text: str


class PathArgs(BaseModel):
    path: str


class NoArgs(BaseModel):
    pass


def action(tool: str, **args: Any) -> str:
    return json.dumps({"tool": tool, "args": args})


class PackageEnv(PrmEnv):
    """Fix `pkg.calc.add`; `check_add.py` (fail_to_pass) and `check_double.py` (pass_to_pass) grade it."""

    def __init__(self, max_steps: int | None = 20, files: dict[str, str] | None = None):
        super().__init__(max_steps=max_steps)
        self.files = {**FILES, **(files or {})}
        self.sandbox: LocalSandbox | None = None
        self.scenario = SimpleNamespace(
            tests=SimpleNamespace(
                fail_to_pass=["python check_add.py"], pass_to_pass=["python check_double.py"]
            )
        )

    def _start(self, seed: int | None, options: dict[str, Any]) -> str:
        if self.sandbox is not None:
            self.sandbox.close()
        self.sandbox = LocalSandbox()
        for path, text in self.files.items():
            self.sandbox.write_file(path, text)
        return "Fix pkg.calc.add so that add(2, 3) == 5."

    def _tools(self) -> list[Tool]:
        return [
            Tool("write", "Write a file.", WriteArgs, self._write),
            Tool(
                "view",
                "Show a file.",
                PathArgs,
                lambda a: ToolResult(self.sandbox.read_file(a.path).decode()),
            ),
            Tool("remove", "Delete a file.", PathArgs, self._remove),
            Tool("submit", "Finish.", NoArgs, lambda a: ToolResult("submitted", done=True)),
        ]

    def _write(self, args: WriteArgs) -> ToolResult:
        self.sandbox.write_file(args.path, args.text)
        return ToolResult("written", changed_files=[args.path])

    def _remove(self, args: PathArgs) -> ToolResult:
        self.sandbox.exec(f"rm -f -- {shlex.quote(args.path)}")
        return ToolResult("removed", changed_files=[args.path])

    def _grade(self) -> dict[str, Any]:
        return {"reward": float(self.sandbox.exec("python check_add.py").ok)}

    def run_tests(self, test_ids: list[str], apply_test_patch: bool = True) -> dict[str, bool]:
        fork = self.sandbox.fork()
        try:
            return {test_id: fork.exec(test_id).ok for test_id in test_ids}
        finally:
            fork.close()

    def fork(self) -> PackageEnv:
        twin = PackageEnv(self.max_steps, self.files)
        twin.task, twin.history, twin.sandbox = self.task, list(self.history), self.sandbox.fork()
        twin._steps, twin._done, twin._tool_index = (
            self._steps,
            self._done,
            {t.name: t for t in twin._tools()},
        )
        return twin

    def oracle_actions(self) -> list[str]:
        return [action("write", path="pkg/calc.py", text=FIXED), action("submit")]

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None


class TopicArgs(BaseModel):
    topic: str


class QuizEnv(PrmEnv):
    """A question with a gold answer: `look(topic)` shows a note, `answer(text)` ends the episode. The "clue"
    note contains the gold answer ("kilo"), the "noise" note does not. Hooks: `gold_answer()`."""

    NOTES: ClassVar[dict[str, str]] = {"clue": "the band kilo of city", "noise": "the river of page"}

    def _start(self, seed: int | None, options: dict[str, Any]) -> str:
        return "which band"

    def _tools(self) -> list[Tool]:
        return [
            Tool("look", "Read a note.", TopicArgs, lambda a: ToolResult(self.NOTES.get(a.topic, "nothing"))),
            Tool("answer", "Answer.", TopicArgs, lambda a: ToolResult("answered", done=True)),
        ]

    def _grade(self) -> dict[str, Any]:
        return {"reward": 0.0}

    def gold_answer(self) -> str:
        return "kilo"
