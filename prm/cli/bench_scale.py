"""`prm bench scale`: oracle episodes per minute at 1, 2, 4 envs, in-process and on Ray; cluster projection."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from prm.cli import bench_app

console = Console()


@bench_app.command("scale")
def bench_scale(
    env_id: Annotated[str, typer.Option("--env", help="env id whose pack is played")] = "prm/swe-v0",
    episodes: Annotated[int, typer.Option(min=1, help="episodes per configuration")] = 4,
    envs: Annotated[list[int], typer.Option(help="env counts, repeatable")] = [1, 2, 4],  # noqa: B006
    backend: Annotated[list[str], typer.Option(help="local and/or ray, repeatable")] = ["local", "ray"],  # noqa: B006
    nodes: Annotated[int, typer.Option(min=1, help="cluster size for the projection")] = 8,
    cores_per_node: Annotated[int, typer.Option(min=1, help="cores per node for the projection")] = 32,
) -> None:
    """Oracle episodes per minute and scaling efficiency (rate(n) / (n x rate(1))) for each back end."""
    from prm.bench.scale import run_scale_benchmark

    if 1 not in envs:
        raise typer.BadParameter("efficiency is relative to 1 env: include --envs 1", param_hint="--envs")
    unknown = set(backend) - {"local", "ray"}
    if unknown:
        raise typer.BadParameter(f"unknown back end(s) {', '.join(sorted(unknown))}", param_hint="--backend")
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task(f"{env_id}: oracle rollouts", total=len(envs) * len(backend))
        result = run_scale_benchmark(
            env_id,
            episodes=episodes,
            env_counts=sorted(set(envs)),
            backends=backend,
            cores=os.cpu_count() or 1,
            on_done=lambda *_: progress.advance(task),
        )
    table = Table(
        "back end", "envs", "wall s", "episodes/min", "efficiency", title=f"{env_id}, {episodes} episodes"
    )
    for (name, num_envs), wall in result.wall_s.items():
        table.add_row(
            name,
            str(num_envs),
            f"{wall:.1f}",
            f"{result.episodes_per_minute(name, num_envs):.1f}",
            f"{result.efficiency(name, num_envs):.0%}",
        )
    console.print(table)
    rate, assumptions = result.projection(nodes, cores_per_node)
    console.print(f"projected: {rate:,.0f} episodes/min. {assumptions}", soft_wrap=True)
