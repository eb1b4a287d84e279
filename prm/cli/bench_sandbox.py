"""`prm bench sandbox`: sandbox latencies next to baselines measured in the same run (see `prm.bench.sandbox`)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from prm.bench.sandbox import run_sandbox_bench
from prm.cli import bench_app
from prm.sandboxes.cow import copy_on_write, sandbox_parent

console = Console()


def _ms(seconds: float | None) -> str:
    return "" if seconds is None else f"{seconds * 1000:.2f} ms"


@bench_app.command("sandbox")
def bench_sandbox(
    exec_n: Annotated[int, typer.Option(help="exec round trips to time")] = 300,
    cli_n: Annotated[int, typer.Option(help="`docker exec` CLI calls to time")] = 30,
    fork_n: Annotated[int, typer.Option(help="starts, forks, snapshots and restores to time")] = 5,
    workspace_mb: Annotated[
        list[int],
        typer.Option(help="workspace sizes for fork/snapshot/restore, repeatable (e.g. 1000 for 1 GB)"),
    ] = [10, 100],  # noqa: B006
    neighbour_n: Annotated[
        int, typer.Option(help="neighbour steps to time per round and hostile kind (0: skip)")
    ] = 10,
) -> None:
    """Container start, exec round trip (vs `docker exec`), fork, snapshot and restore latency, and how much
    a hostile sandbox slows its neighbour (medians)."""
    rows = run_sandbox_bench(
        exec_n=exec_n, cli_n=cli_n, fork_n=fork_n, workspace_mb=workspace_mb, neighbour_n=neighbour_n
    )
    parent = sandbox_parent()
    workspaces = (
        f"copy-on-write, btrfs at {parent}"
        if copy_on_write(parent)
        else "copied file by file (no copy-on-write pool)"
    )
    table = Table(title=f"DockerSandbox latency (median); workspaces {workspaces}")
    for column in ("measurement", "time", "baseline (same run)", "baseline time", "ratio", "target", "met"):
        table.add_column(
            column, justify="left" if column in ("measurement", "baseline (same run)") else "right"
        )
    for row in rows:
        met = "" if row.met is None else ("[green]yes[/green]" if row.met else "[red]no[/red]")
        ratio = "" if row.ratio is None else f"{row.ratio:.3f}x"
        table.add_row(
            row.name, _ms(row.seconds), row.baseline_name, _ms(row.baseline_seconds), ratio, row.target, met
        )
    console.print(table)
