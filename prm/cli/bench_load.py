"""`prm bench load`: oracle episodes across the families at 4 envs at once; what they leave behind (see
`prm.bench.load`); exits 1 if anything is left."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from prm.cli import bench_app

console = Console()


@bench_app.command("load")
def bench_load(
    family: Annotated[
        list[str] | None, typer.Option(help="family to play (repeatable; default: every family)")
    ] = None,
    episodes: Annotated[int, typer.Option(min=1, help="episodes in all, split over the families")] = 100,
    num_envs: Annotated[int, typer.Option(min=1, help="envs at once")] = 4,
) -> None:
    """Counts containers, processes, temp files and open descriptors before and after oracle rollouts."""
    from prm.bench.load import run_load

    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("families", total=len(family) if family else None)
        result = run_load(
            family, episodes=episodes, num_envs=num_envs, on_family=lambda _: progress.advance(task)
        )
    table = Table("family", "episodes", "graded", "wall s", title=f"prm bench load ({num_envs} envs at once)")
    for name, count in result.episodes.items():
        table.add_row(name, str(count), str(result.graded[name]), f"{result.wall_s[name]:.0f}")
    console.print(table)
    before, after = result.before, result.after
    console.print(
        f"before -> after: containers {len(before.containers)} -> {len(after.containers)}, "
        f"processes {sum(before.processes.values())} -> {sum(after.processes.values())}, "
        f"temp files {len(before.temp_entries)} -> {len(after.temp_entries)}, fds {before.fds} -> {after.fds}"
    )
    if result.shared():
        console.print(f"shared by design (the one browser of the process): {result.shared()}")
    left = result.left()
    console.print(f"left behind: {left or 'nothing'}")
    if left:
        raise typer.Exit(1)
