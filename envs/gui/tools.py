"""The tools of `prm/gui-v0`: mouse, keyboard, wait and done, as tool calls on a fixed-size screen.

Coordinates are screen pixels (0 <= x < width, 0 <= y < height; the screenshot's own); `id` is an element id
of the last observation's accessibility tree (`e12`). A coordinate outside the screen, an unknown key or an
unknown id is an invalid action whose observation says why; nothing is sent to the display then.

>>> [tool.signature() for tool in GuiTools(lambda: None, 800, 600).tools()][:2]
['click(x?, y?, id?)', 'double_click(x?, y?, id?)']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from prm.envs.gui.desktop import Desktop, Observation
from prm.tools import ActionError, Tool, ToolResult

MAX_TYPED_CHARS = 2000


class Point(BaseModel):
    """A screen point: `x` and `y`, or the centre of the element `id`."""

    model_config = ConfigDict(extra="forbid")
    x: int | None = None
    y: int | None = None
    id: str | None = Field(default=None, pattern=r"^e[0-9]{1,5}$")

    @model_validator(mode="after")
    def _point_or_id(self) -> Point:
        if (self.id is None) == (self.x is None or self.y is None) or (self.id and self.x is not None):
            raise ValueError("give x and y, or id (an element id such as e12)")
        return self


class Drag(BaseModel):
    model_config = ConfigDict(extra="forbid")
    x: int
    y: int
    to_x: int
    to_y: int


class Type(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=MAX_TYPED_CHARS)


class Key(BaseModel):
    model_config = ConfigDict(extra="forbid")
    combo: str = Field(min_length=1, max_length=60, description="e.g. ctrl+s, Return, alt+F4")


class Scroll(Point):
    direction: Literal["up", "down", "left", "right"]
    amount: int = Field(default=3, ge=1, le=20)


class Wait(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=1.0, gt=0, le=5)


class Done(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str = Field(default="", max_length=2000)


class GuiTools:
    """The tool set over the episode's desktop (`desktop()` returns it) and its last observation."""

    def __init__(
        self, desktop: Callable[[], Desktop | None], width: int, height: int, accessibility: bool = True
    ):
        self.desktop, self.width, self.height = desktop, width, height
        self.accessibility = accessibility
        self.last: Observation | None = None
        self.answer: str | None = None

    def tools(self) -> list[Tool]:
        point = "the point x,y (pixels) or the element id"
        return [
            Tool("click", f"Left-click {point}.", Point, lambda a: self._pointer("click", a)),
            Tool("double_click", f"Double-click {point}.", Point, lambda a: self._pointer("double_click", a)),
            Tool("right_click", f"Right-click {point}.", Point, lambda a: self._pointer("right_click", a)),
            Tool("drag", "Press at x,y, move to to_x,to_y, release.", Drag, self._drag),
            Tool(
                "type",
                "Type text at the keyboard focus.",
                Type,
                lambda a: self._act({"op": "type", "text": a.text}),
            ),
            Tool("key", "Press a key combination, e.g. ctrl+s, Return, alt+F4.", Key, self._key),
            Tool(
                "scroll",
                f"Scroll at {point}: direction up/down/left/right, amount clicks.",
                Scroll,
                self._scroll,
            ),
            Tool(
                "wait",
                "Wait up to 5 seconds, then look again.",
                Wait,
                lambda a: self._act({"op": "wait", "seconds": a.seconds}),
            ),
            Tool(
                "done", "End the episode; answer= the answer when the task asks a question.", Done, self._done
            ),
        ]

    def _in_screen(self, x: int, y: int) -> None:
        if not (0 <= x < self.width and 0 <= y < self.height):
            raise ActionError(
                f"({x}, {y}) is outside the screen (0 <= x < {self.width}, 0 <= y < {self.height})"
            )

    def _target(self, args: Point) -> dict:
        if args.id is not None:
            return {"id": args.id}
        self._in_screen(args.x, args.y)
        return {"x": args.x, "y": args.y}

    def _pointer(self, op: str, args: Point) -> ToolResult:
        return self._act({"op": op, **self._target(args)})

    def _drag(self, args: Drag) -> ToolResult:
        self._in_screen(args.x, args.y)
        self._in_screen(args.to_x, args.to_y)
        return self._act({"op": "drag", **args.model_dump()})

    def _key(self, args: Key) -> ToolResult:
        return self._act({"op": "key", "combo": args.combo})

    def _scroll(self, args: Scroll) -> ToolResult:
        return self._act(
            {"op": "scroll", **self._target(args), "direction": args.direction, "amount": args.amount}
        )

    def _done(self, args: Done) -> ToolResult:
        self.answer = args.answer
        return ToolResult("Episode ended.", done=True)

    def _act(self, action: dict) -> ToolResult:
        self.last = self.desktop().act(action, tree=self.accessibility)
        return ToolResult(self.last.text())
