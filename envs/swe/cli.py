"""`prm/swe-v0`'s command-line verbs (found through the family declaration): `prm bench swe`,
`prm scenario synth` and `prm bench synth`.

Heavy modules (the env, the docker SDK) are imported inside the commands, so `prm --help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from prm.bench.latency import latency_table

console = Console()


def bench(
    scenario: Annotated[str, typer.Option(help="scenario id or file")] = "toolz-groupby-key",
    resets: Annotated[int, typer.Option(min=2, help="resets to time")] = 20,
    steps: Annotated[int, typer.Option(min=2, help="steps of each kind to time")] = 50,
    grades: Annotated[int, typer.Option(min=1, help="gradings (submit) to time")] = 3,
) -> None:
    """Env construction, reset, step (bash, view) and grading latency from a cached image (Docker)."""
    from prm.envs.swe.bench import run_swe_bench

    rows = run_swe_bench(scenario=scenario, resets=resets, steps=steps, grades=grades)
    console.print(latency_table(f"prm/swe-v0 latency ({scenario})", rows))


def synth(
    source: Annotated[str, typer.Argument(metavar="PACKAGE==VERSION|DIR", help="a PyPI pin or a repository")],
    n: Annotated[int, typer.Option("--n", min=1, help="scenarios to keep")],
    out: Annotated[Path, typer.Option("--out", metavar="DIR", file_okay=False, help="output folder")],
    kinds: Annotated[
        list[str] | None, typer.Option("--kind", help="mutation kinds (repeat; default: all)")
    ] = None,
    seed: Annotated[int, typer.Option(help="candidate order")] = 0,
    max_candidates: Annotated[int | None, typer.Option(min=1, help="default: 10 x n")] = None,
    workers: Annotated[int, typer.Option(min=1, max=2, help="candidates checked at once")] = 2,
    min_timeout: Annotated[float, typer.Option(help="seconds a mutated suite may run at least")] = 60.0,
    validate: Annotated[
        bool, typer.Option(help="run `prm scenario validate`'s checks on each kept one")
    ] = True,
) -> None:
    """Synthesise SWE scenarios: plant bugs by AST mutation, keep those the package's tests prove (Docker).

    Resumable: run it again with the same --out to go on. Writes DIR/<id>.yaml and DIR/manifest.json."""
    from pydantic import ValidationError

    from prm.envs.swe.mutations import OPERATORS
    from prm.envs.swe.synth import SynthConfig, synthesize

    try:
        config = SynthConfig(
            source=source,
            n=n,
            out=out,
            kinds=kinds or list(OPERATORS),
            seed=seed,
            max_candidates=max_candidates,
            workers=workers,
            min_timeout_s=min_timeout,
            validate_scenarios=validate,
        )
    except ValidationError as err:
        raise typer.BadParameter(err.errors()[0]["msg"]) from err
    columns = [SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with Progress(*columns, TimeElapsedColumn(), console=console) as progress:
        task = progress.add_task(f"{source}: baseline", total=n)

        def show(report) -> None:
            tried = sum(report.tried.values())
            progress.update(task, completed=report.kept, description=f"{source}: {tried} tried")

        report = synthesize(config, on_progress=show)
    console.print(
        f"[green]kept[/green] {report.kept} of {sum(report.tried.values())} candidates "
        f"({report.per_hour:.0f} validated scenarios per hour) in {escape(str(out))}"
    )


def bench_synth(
    pack: Annotated[
        Path, typer.Argument(exists=True, file_okay=False, help="a synthesis output or a pack of them")
    ],
) -> None:
    """Scenario synthesis: validated scenarios per hour and keep rate per mutation kind (from the manifests)."""
    from prm.envs.swe.synth import pack_manifest

    manifest = pack_manifest(pack)
    table = Table(
        title=f"scenario synthesis ({manifest['scenarios']} scenarios, {len(manifest['packages'])} packages)"
    )
    for column in ("mutation kind", "kept", "keep rate"):
        table.add_column(column, justify="left" if column == "mutation kind" else "right")
    for kind, rate in sorted(manifest["keep_rate_by_kind"].items()):
        table.add_row(kind, str(manifest["kept_by_kind"].get(kind, 0)), f"{rate:.1%}")
    console.print(table)
    console.print(f"validated scenarios per hour: {manifest['validated_per_hour']:.0f}")
