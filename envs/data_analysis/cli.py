"""`prm/data-analysis-v0`'s command-line verbs (found through the family declaration): `prm bench data`."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import median
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def bench(
    steps: Annotated[int, typer.Option(min=5, help="trivial cells timed per path")] = 200,
    starts: Annotated[int, typer.Option(min=1, help="kernel starts timed")] = 5,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the numbers to this JSON file")
    ] = None,
) -> None:
    """Time kernel start and a trivial `python` step against a fresh `python3 -c` (target: <= 0.2x)."""
    from prm.envs.data_analysis.bench import BASELINE, TARGET_RATIO, run_data_benchmark

    with console.status("running the data-analysis benchmark (builds the image on first use)"):
        result = run_data_benchmark(steps=steps, starts=starts)
    table = Table("path", "p50 ms", "p95 ms", "x fresh process (p50)", title=f"trivial cell, {steps} steps")
    for path in result.p50_ms:
        table.add_row(
            path, f"{result.p50_ms[path]:.2f}", f"{result.p95_ms[path]:.2f}", f"{result.ratio(path):.3f}"
        )
    console.print(table)
    console.print(
        f"kernel start: median {median(result.kernel_start_s) * 1e3:.0f} ms over {starts} "
        f"(max {max(result.kernel_start_s) * 1e3:.0f} ms)"
    )
    ratio = result.ratio("env.step(python)")
    verdict = "[green]met[/green]" if ratio <= TARGET_RATIO else "[red]missed[/red]"
    console.print(f"target env.step(python) <= {TARGET_RATIO}x {BASELINE}: {verdict} ({ratio:.3f}x)")
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=2))
        console.print(f"wrote {json_out}")
