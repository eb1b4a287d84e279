"""`prm/gui-v0`'s command-line verbs (found through the family declaration): `prm bench gui`.

Heavy modules (the env, the docker SDK, Pillow) are imported inside the command, so `prm --help` stays fast."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from prm.bench.latency import latency_table

console = Console()


def bench(
    scenario: Annotated[str, typer.Option(help="scenario id or file")] = "mousepad-greeting",
    resets: Annotated[int, typer.Option(min=1, help="resets to time")] = 3,
    steps: Annotated[int, typer.Option(min=2, help="steps of each kind to time")] = 30,
    accessibility: Annotated[bool, typer.Option(help="include the AT-SPI tree in observations")] = True,
) -> None:
    """Reset (display and applications up) and step latency (click, type; screenshot and tree included)."""
    from prm.envs.gui.bench import run_gui_bench

    rows = run_gui_bench(scenario=scenario, resets=resets, steps=steps, accessibility=accessibility)
    title = f"prm/gui-v0 latency ({scenario}, accessibility={'on' if accessibility else 'off'})"
    console.print(latency_table(title, rows))
