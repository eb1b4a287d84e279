"""`prm bench agents`: rollout throughput with a tiny model at num_envs 1 and 4, batched vs one call per env."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from prm.cli import bench_app

console = Console()


@bench_app.command("agents")
def bench_agents(
    episodes: Annotated[int, typer.Option(min=1, help="episodes per configuration")] = 8,
    max_steps: Annotated[int, typer.Option(min=1, help="step budget of each episode")] = 3,
    torch_threads: Annotated[
        int, typer.Option(min=1, help="torch intra-op threads (1: no waiting on a busy core of a shared CPU)")
    ] = 1,
    rounds: Annotated[
        int, typer.Option(min=1, help="rounds the configurations take turns for (best kept)")
    ] = 3,
) -> None:
    """Episodes per minute of `rollout` with a tiny transformers model; ratios against num_envs=1."""
    from prm.bench.agents import run_agents_benchmark

    with console.status("building a tiny model and running rollouts"):
        result = run_agents_benchmark(
            episodes=episodes, max_steps=max_steps, torch_threads=torch_threads, rounds=rounds
        )
    table = Table(
        "configuration",
        "episodes/min",
        "x num_envs=1",
        "env share",
        "policy share",
        title=f"{result.episodes} episodes per configuration (best of {rounds} rounds), "
        f"torch threads: {result.torch_threads}",
    )
    for name in result.timings:
        share = result.env_share(name)
        table.add_row(
            name,
            f"{result.episodes_per_minute(name):.1f}",
            f"{result.ratio(name):.2f}",
            f"{share:.0%}",
            f"{1 - share:.0%}",
        )
    console.print(table)
