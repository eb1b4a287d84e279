"""A minimal family for testing the core: guess a secret number. `crash` stands for a sandbox that dies."""

import json

from pydantic import BaseModel

from prm.env import PrmEnv
from prm.errors import SandboxError
from prm.tools import Tool, ToolResult


class Guess(BaseModel):
    number: int


class NoArgs(BaseModel):
    pass


class GuessEnv(PrmEnv):
    """Guess the secret number; `crash` stands for a sandbox that dies."""

    def _start(self, seed, options):
        self.secret = int(self.np_random.integers(0, 10))
        self.guess = None
        return "Guess a number from 0 to 9."

    def _tools(self):
        return [
            Tool("guess", "Submit a guess.", Guess, self._guess),
            Tool(
                "hint",
                "Is the secret even?",
                NoArgs,
                lambda _: ToolResult(str(self.secret % 2 == 0), {"hint": 1.0}),
            ),
            Tool("crash", "Simulated infrastructure failure.", NoArgs, self._crash),
        ]

    def _guess(self, args):
        self.guess = args.number
        return ToolResult(f"guessed {args.number}", done=True)

    def _crash(self, _):
        raise SandboxError("container died")

    def _grade(self):
        return {"reward": float(self.guess == self.secret), "correct": self.guess == self.secret}

    def oracle_actions(self):
        return [json.dumps({"tool": "guess", "args": {"number": self.secret}})]


def call(tool, **args):
    return json.dumps({"tool": tool, "args": args})
