"""Scripted oracles: they solve web scenarios through the agent's own tools, reading only the observation.

`Oracle(scenario).next_action(observation)` returns the next action string. App scenarios carry their
solution (`oracle:` steps whose `target` is looked up in the page tree); MiniWoB++ tasks with a solver in
`MINIWOB_SOLVERS` are solved from the goal text and the tree, as a careful agent would.

>>> tree = "Goal: Click the button.\\nPage:\\n[1] generic 'Click the button.'\\n[2] button 'Click Me!'"
>>> Oracle(WebScenario(id="t", miniwob="click-test")).next_action(tree)
'{"tool": "click", "args": {"id": 2}}'
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from prm.envs.web.scenario import WebScenario

LINE = re.compile(r"^\s*(?:\[(\d+)\] )?(\S+)(?: '((?:[^'\\]|\\.)*)')?(.*)$")


@dataclass(frozen=True)
class Node:
    """One line of the page tree."""

    id: int | None
    role: str
    name: str
    states: str


def parse_tree(observation: str) -> list[Node]:
    """The nodes of an observation's page tree, in document order."""
    page = observation.split("\nPage:\n", 1)[-1]
    nodes = []
    for line in page.splitlines():
        match = LINE.match(line)
        if match:
            element_id, role, name, states = match.groups()
            name = (name or "").replace("\\'", "'")
            nodes.append(Node(int(element_id) if element_id else None, role, name, states.strip()))
    return nodes


def goal_of(observation: str) -> str:
    return observation.split("\n", 1)[0].removeprefix("Goal: ")


def action(tool: str, **args: Any) -> str:
    return json.dumps({"tool": tool, "args": args}, ensure_ascii=False)


def find(nodes: list[Node], role: str | None = None, name: str | None = None) -> Node:
    """The first node with an id matching `role` and `name` (exactly); `LookupError` when none does."""
    for node in nodes:
        if node.id is not None and role in (None, node.role) and name in (None, node.name):
            return node
    raise LookupError(f"no element {role or '*'} {name!r} on the page")


def quoted(goal: str) -> list[str]:
    return re.findall(r'"([^"]*)"', goal)


class _Page:
    """The latest observation, as solvers read it (the oracle replaces `nodes` before resuming a solver)."""

    def __init__(self) -> None:
        self.goal = ""
        self.nodes: list[Node] = []


Solver = Callable[[str, _Page], Iterator[str]]
"""A MiniWoB solver: a generator of actions, resumed after each one with `page` holding the new observation."""


def _click_named(role: str | None, name: Callable[[str], str]) -> Solver:
    def solve(goal: str, page: _Page) -> Iterator[str]:
        yield action("click", id=find(page.nodes, role, name(goal)).id)

    return solve


def _fill_then_submit(text: Callable[[str, list[Node]], str], submit: str = "Submit") -> Solver:
    def solve(goal: str, page: _Page) -> Iterator[str]:
        yield action("fill", id=find(page.nodes, "textbox").id, text=text(goal, page.nodes))
        yield action("click", id=find(page.nodes, "button", submit).id)

    return solve


def _checkboxes(goal: str, page: _Page) -> Iterator[str]:
    wanted = re.match(r"Select (.*) and click Submit", goal).group(1)
    names = [] if wanted == "nothing" else re.split(r", | and ", wanted)
    for name in names:
        yield action("click", id=find(page.nodes, "checkbox", name.strip()).id)
    yield action("click", id=find(page.nodes, "button", "Submit").id)


def _option(goal: str, page: _Page) -> Iterator[str]:
    name = re.match(r"Select (.*) and click Submit", goal).group(1)
    yield action("click", id=find(page.nodes, "radio", name).id)
    yield action("click", id=find(page.nodes, "button", "Submit").id)


def _choose_list(goal: str, page: _Page) -> Iterator[str]:
    name = re.match(r"Select (.*) from the list", goal).group(1)
    yield action("select", id=find(page.nodes, "combobox").id, option=name)
    yield action("click", id=find(page.nodes, "button", "Submit").id)


def _button_sequence(goal: str, page: _Page) -> Iterator[str]:
    yield action("click", id=find(page.nodes, "button", "ONE").id)
    yield action("click", id=find(page.nodes, "button", "TWO").id)


def _password(goal: str, page: _Page) -> Iterator[str]:
    password = quoted(goal)[0]
    for box in [n for n in page.nodes if n.role == "textbox"][:2]:
        yield action("fill", id=box.id, text=password)
    yield action("click", id=find(page.nodes, "button", "Submit").id)


def _login(goal: str, page: _Page) -> Iterator[str]:
    username, password = quoted(goal)[:2]
    boxes = [n for n in page.nodes if n.role == "textbox"]
    yield action("fill", id=boxes[0].id, text=username)
    yield action("fill", id=boxes[1].id, text=password)
    yield action("click", id=find(page.nodes, "button", "Login").id)


def _focus_nth(goal: str, page: _Page) -> Iterator[str]:
    match = re.search(r"(\d+)(?:st|nd|rd|th) input", goal)
    index = int(match.group(1)) - 1 if match else 0
    yield action("click", id=[n for n in page.nodes if n.role == "textbox"][index].id)


def _collapsible(goal: str, page: _Page) -> Iterator[str]:
    yield action("click", id=[n for n in page.nodes if n.role == "tab"][0].id)
    yield action("click", id=find(page.nodes, "button", "Submit").id)


def _dialog_button(goal: str, page: _Page) -> Iterator[str]:
    label = quoted(goal)[0] if quoted(goal) else "x"
    yield action("click", id=find(page.nodes, "button", "Close" if label == "x" else label).id)


def _arithmetic(goal: str, nodes: list[Node]) -> str:
    problem = next(n.name for n in nodes if re.fullmatch(r"-?\d+ [-+*x] -?\d+ =", n.name))
    a, op, b, _ = problem.split()
    x, y = int(a), int(b)
    return str({"+": x + y, "-": x - y, "*": x * y, "x": x * y}[op])


def _algebra(goal: str, nodes: list[Node]) -> str:
    """`x + b = c`, `x - b = c` or `b + x = c`, `b - x = c`."""
    equation = next(n.name for n in nodes if re.fullmatch(r"(x|-?\d+) [-+] (x|-?\d+) = -?\d+", n.name))
    left, op, right, _, c = equation.split()
    total = int(c)
    if left == "x":
        return str(total - int(right) if op == "+" else total + int(right))
    return str(total - int(left) if op == "+" else int(left) - total)


def _table_value(goal: str, nodes: list[Node]) -> str:
    key = re.match(r"Enter the value of (.*) into the text field", goal).group(1)
    cells = [n.name for n in nodes if n.role == "cell"]
    return cells[cells.index(key) + 1]


def _nth_word(goal: str, nodes: list[Node]) -> str:
    index = int(re.search(r"(\d+)(?:st|nd|rd|th) word", goal).group(1)) - 1
    paragraph = next(n.name for n in nodes if n.role == "paragraph")
    return re.sub(r"[^\w\s]", "", paragraph).split()[index]


def _date(goal: str, nodes: list[Node]) -> str:
    month, day, year = re.search(r"(\d\d)/(\d\d)/(\d{4})", goal).groups()
    return f"{year}-{month}-{day}"


MINIWOB_SOLVERS: dict[str, Solver] = {
    "click-test": _click_named("button", lambda goal: "Click Me!"),
    "click-test-2": _click_named("button", lambda goal: re.match(r"Click button (\w+)", goal).group(1)),
    "click-button": _click_named("button", lambda goal: quoted(goal)[0]),
    "unicode-test": _click_named("button", lambda goal: quoted(goal)[0]),
    "click-link": _click_named(None, lambda goal: quoted(goal)[0]),
    "click-tab": _click_named("tab", lambda goal: re.match(r"Click on (Tab #\d+)", goal).group(1)),
    "click-button-sequence": _button_sequence,
    "click-checkboxes": _checkboxes,
    "click-option": _option,
    "choose-list": _choose_list,
    "click-dialog": _dialog_button,
    "click-dialog-2": _dialog_button,
    "click-collapsible": _collapsible,
    "focus-text": _focus_nth,
    "focus-text-2": _focus_nth,
    "enter-text": _fill_then_submit(lambda goal, nodes: quoted(goal)[0]),
    "enter-text-dynamic": _fill_then_submit(lambda goal, nodes: quoted(goal)[0]),
    "enter-text-2": _fill_then_submit(lambda goal, nodes: quoted(goal)[0].upper()),
    "enter-password": _password,
    "login-user": _login,
    "enter-date": _fill_then_submit(_date),
    "simple-arithmetic": _fill_then_submit(_arithmetic),
    "simple-algebra": _fill_then_submit(_algebra),
    "read-table": _fill_then_submit(_table_value),
    "find-word": _fill_then_submit(_nth_word),
}


class Oracle:
    """Drives one episode of `scenario`; `next_action` raises `LookupError` when it cannot go on."""

    def __init__(self, scenario: WebScenario):
        self.scenario = scenario
        self._page = _Page()
        self._steps: Iterator[str] | None = None
        if scenario.miniwob is not None and scenario.miniwob not in MINIWOB_SOLVERS:
            raise LookupError(f"no scripted solver for MiniWoB task '{scenario.miniwob}'")

    @property
    def solvable(self) -> bool:
        return self.scenario.app is not None or self.scenario.miniwob in MINIWOB_SOLVERS

    def next_action(self, observation: str) -> str:
        self._page.goal, self._page.nodes = goal_of(observation), parse_tree(observation)
        if self._steps is None:
            self._steps = self._plan()
        try:
            return next(self._steps)
        except StopIteration:
            raise LookupError("the oracle has no more actions") from None
        except (ValueError, IndexError, AttributeError, RuntimeError) as err:
            raise LookupError(f"the oracle cannot read this page: {err!r}") from err

    def _plan(self) -> Iterator[str]:
        if self.scenario.miniwob is not None:
            yield from MINIWOB_SOLVERS[self.scenario.miniwob](self._page.goal, self._page)
            return
        for step in self.scenario.oracle:
            args = dict(step.args)
            if step.target is not None:
                role, _, name = step.target.partition(" ")
                args["id"] = find(self._page.nodes, role, name.strip("'") if name else None).id
            yield action(step.tool, **args)


def play(env: Any, observation: Any) -> tuple[list[str], dict[str, Any]]:
    """Plays the oracle on `env` (a `WebEnv`, possibly wrapped) from `observation` to the episode's end;
    returns the actions taken and the final `info`."""
    oracle = Oracle(env.unwrapped.scenario)
    actions: list[str] = []
    info: dict[str, Any] = {}
    done = False
    while not done:
        text = observation["text"] if isinstance(observation, dict) else observation
        actions.append(oracle.next_action(text))
        observation, _, terminated, truncated, info = env.step(actions[-1])
        done = terminated or truncated
    return actions, info


def solve(env: Any, seed: int | None = 0) -> dict[str, Any]:
    """Runs the oracle on a fresh episode of `env`; returns the final `info`."""
    observation, _ = env.reset(seed=seed)
    return play(env, observation)[1]
