"""How the `prm` command reports errors, for every verb at once.

prm-gym's own errors (`prm.errors.PrmError`: a bad scenario, reward spec, sandbox kind, trajectory file, a
failed image build, ...) reach the terminal as one line, `error: <message>`, on stderr, with exit code 2;
`prm --debug VERB ...` (or `PRM_DEBUG=1`) shows the full traceback instead. Anything else is a bug and keeps
its traceback. Verbs raise; they never print errors themselves.

>>> from typer.testing import CliRunner
>>> from prm.cli import app
>>> result = CliRunner().invoke(app, ["replay", "runs/nope.jsonl"])
>>> result.exit_code, result.output
(2, 'error: runs/nope.jsonl: no such trajectory file\\n')
"""

from __future__ import annotations

import os
from typing import Any

import click
import gymnasium as gym
import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from prm.errors import PrmError

DEBUG_KEY = "prm.debug"
EXIT_CODE = 2
_stderr = Console(stderr=True)


class MakeArgumentError(PrmError):
    """`gym.make` rejected the arguments the command line built (e.g. `--kw mode=distracter`)."""


class PrmGroup(TyperGroup):
    """The root command group: turns a `PrmError` raised by any verb into one line and exit code 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PrmError as err:
            if ctx.meta.get(DEBUG_KEY) or os.environ.get("PRM_DEBUG") == "1":
                raise
            message = " ".join(str(err).split()) or type(err).__name__
            _stderr.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
            raise typer.Exit(EXIT_CODE) from None


def make_env(env_id: str, **kwargs: Any) -> gym.Env:
    """`gym.make` for the command line: an env that rejects its arguments (a `TypeError` or `ValueError`
    from its constructor) is the user's error, reported as `MakeArgumentError`."""
    try:
        return gym.make(env_id, **kwargs)
    except PrmError:
        raise
    except (TypeError, ValueError) as err:
        raise MakeArgumentError(f"{env_id}: {err}") from err
