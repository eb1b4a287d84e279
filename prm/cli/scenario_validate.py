"""`prm scenario validate PATH...`: check SWE scenario files the way a scenario author needs.

Each path is a scenario file or a directory (every scenario file under it). For each file: load and prepare
it, run the tests at the start state, play the gold patch through the env's tools, and repeat; see
`prm.envs.swe.validate`. Prints a progress bar and a table; exits 1 when any file fails.

Example:
    prm scenario validate scenarios/swe/toolz-groupby-key.yaml
    prm scenario validate scenarios/swe --repeats 3
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from prm.cli import scenario_app
from prm.envs.swe.validate import ValidationResult, validate_scenario_file
from prm.scenario import scenario_files

console = Console()


def _summary(statuses: dict[str, str]) -> str:
    if not statuses:
        return "-"
    passed = sum(status == "passed" for status in statuses.values())
    return f"{passed}/{len(statuses)} pass"


def _table(results: list[ValidationResult]) -> Table:
    table = Table("file", "id", "start", "gold", "repeats", "result", "s", title="scenario validation")
    for result in results:
        verdict = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
        table.add_row(
            result.path.name,
            result.scenario_id or "-",
            _summary(result.start),
            _summary(result.gold),
            str(result.repeats),
            verdict,
            f"{result.seconds:.1f}",
        )
    return table


@scenario_app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(help="scenario files or directories of them")],
    sandbox: Annotated[str, typer.Option(help="auto, docker or local")] = "auto",
    repeats: Annotated[int, typer.Option(min=1, help="rounds of start-state and gold checks")] = 2,
) -> None:
    """Check SWE scenarios: the start state fails, the gold patch resolves, results repeat."""
    files = [file for path in paths for file in (scenario_files(path) if path.is_dir() else [path])]
    if not files:
        raise typer.BadParameter("no scenario files found", param_hint="PATHS")
    results: list[ValidationResult] = []
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("validating", total=len(files))
        for file in files:

            def stage(text: str, file: Path = file) -> None:
                progress.update(task, description=f"{file.name}: {text}")

            result = validate_scenario_file(file, sandbox=sandbox, repeats=repeats, on_stage=stage)
            results.append(result)
            mark = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
            console.print(f"{mark} {escape(str(file))} ({result.seconds:.1f} s)")
            progress.advance(task)
    console.print(_table(results))
    failed = [result for result in results if not result.ok]
    for result in failed:
        console.print(f"[red]FAILED[/red] {escape(result.problem or '')}")
    if failed:
        console.print(f"[red]{len(failed)} of {len(results)} scenario files failed[/red]")
        raise typer.Exit(code=1)
    console.print(f"[green]all {len(results)} scenario files are valid[/green]")
