"""`prm bench hostile`: the attack battery across families (see `prm.bench.hostile`); exits 1 if anything leaked."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from prm.cli import bench_app

console = Console()
STYLE = {"contained": "green", "flagged": "yellow", "leaked": "bold red", "error": "magenta"}


@bench_app.command("hostile")
def bench_hostile(
    family: Annotated[
        list[str] | None, typer.Option(help="family to attack (repeatable; default: every family)")
    ] = None,
    fast: Annotated[bool, typer.Option(help="only the fast subset that CI runs")] = False,
    faults: Annotated[bool, typer.Option(help="also inject each family's faults into small rollouts")] = True,
    engine_restart: Annotated[
        bool,
        typer.Option(
            help="also kill and restart the Docker engine mid-rollout (disturbs every other user of the engine)"
        ),
    ] = False,
) -> None:
    """Attacks every family through env.step as a misbehaving policy would: attack x family -> outcome."""
    from prm.bench.hostile import Outcome, attacks_for, faults_for, run_battery
    from prm.family import load_ref
    from prm.registration import families

    declared = {name: f for name, f in families().items() if f.hostile is not None}
    chosen = family or list(declared)
    unknown = sorted(set(chosen) - set(declared))
    if unknown:
        raise typer.BadParameter(
            f"no hostile target for {', '.join(unknown)}; families: {', '.join(declared)}",
            param_hint="--family",
        )
    targets = [load_ref(declared[name].hostile) for name in chosen]
    total = sum(
        len(attacks_for(t, fast=fast)) + faults * len(faults_for(t, fast=fast, engine_restart=engine_restart))
        for t in targets
    )
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("attacks", total=total)
        results = run_battery(
            chosen,
            fast=fast,
            faults=faults,
            engine_restart=engine_restart,
            on_result=lambda r: progress.update(task, advance=1, description=f"{r.family}: {r.attack}"),
        )
    table = Table("family", "category", "attack", "outcome", "s", "detail", title="prm bench hostile")
    for r in results:
        outcome = r.verdict.outcome.value
        table.add_row(
            r.family,
            r.category,
            r.attack,
            f"[{STYLE[outcome]}]{outcome}[/]",
            f"{r.seconds:.1f}",
            r.verdict.detail,
        )
    console.print(table)
    counts = {o.value: sum(r.verdict.outcome is o for r in results) for o in Outcome}
    console.print(", ".join(f"{n} {name}" for name, n in counts.items()))
    if counts["leaked"] or counts["error"]:
        raise typer.Exit(1)
