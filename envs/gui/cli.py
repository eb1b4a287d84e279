"""`prm/gui-v0`'s command-line verbs (found through the family declaration): `prm bench gui`.

Heavy modules (the env, the docker SDK, Pillow) are imported inside the command, so `prm --help` stays fast."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def bench(
    scenario: Annotated[str, typer.Option(help="scenario id or file")] = "mousepad-greeting",
    resets: Annotated[int, typer.Option(min=1, help="resets to time")] = 3,
    steps: Annotated[int, typer.Option(min=2, help="steps of each kind to time")] = 30,
    accessibility: Annotated[bool, typer.Option(help="include the AT-SPI tree in observations")] = True,
) -> None:
    """Reset (display and applications up) and step latency (click, type; screenshot and tree included)."""
    from prm.envs.gui.bench import run_gui_bench

    rows = run_gui_bench(scenario=scenario, resets=resets, steps=steps, accessibility=accessibility)
    table = Table(title=f"prm/gui-v0 latency ({scenario}, accessibility={'on' if accessibility else 'off'})")
    for column in (
        "measurement",
        "p50",
        "p95",
        "baseline (same run)",
        "baseline p50",
        "ratio",
        "target",
        "met",
    ):
        table.add_column(column)
    for row in rows:
        met = "" if row.met is None else ("[green]yes[/green]" if row.met else "[red]no[/red]")
        target = f"p50 < {_ms(row.target_s)}" if row.target_s else ""
        baseline_p50 = sorted(row.baseline)[len(row.baseline) // 2]
        table.add_row(
            row.name,
            _ms(row.p50),
            _ms(row.p95),
            row.baseline_name,
            _ms(baseline_p50),
            f"{row.ratio:.2f}x",
            target,
            met,
        )
    console.print(table)
