"""`prm/swe-v0`'s command-line verbs (found through the family declaration): `prm bench swe`.

Heavy modules (the env, the docker SDK) are imported inside the commands, so `prm --help` stays fast."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def bench(
    scenario: Annotated[str, typer.Option(help="scenario id or file")] = "toolz-groupby-key",
    resets: Annotated[int, typer.Option(min=2, help="resets to time")] = 20,
    steps: Annotated[int, typer.Option(min=2, help="steps of each kind to time")] = 50,
    grades: Annotated[int, typer.Option(min=1, help="gradings (submit) to time")] = 3,
) -> None:
    """Env construction, reset, step (bash, view) and grading latency from a cached image (Docker)."""
    from prm.envs.swe.bench import run_swe_bench

    rows = run_swe_bench(scenario=scenario, resets=resets, steps=steps, grades=grades)
    table = Table(title=f"prm/swe-v0 latency ({scenario})")
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
        table.add_column(
            column, justify="left" if column in ("measurement", "baseline (same run)") else "right"
        )
    for row in rows:
        met = "" if row.met is None else ("[green]yes[/green]" if row.met else "[red]no[/red]")
        table.add_row(
            row.name,
            _ms(row.p50),
            _ms(row.p95),
            row.baseline_name,
            _ms(row.baseline_p50),
            f"{row.ratio:.2f}x",
            row.target,
            met,
        )
    console.print(table)
