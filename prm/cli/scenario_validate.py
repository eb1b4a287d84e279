"""`prm scenario validate PATH...`: check scenario files of any family the way a scenario author needs.

Each path is a scenario file or a directory (every scenario file under it). Each file goes to its family's
validator (`Family.validator`; e.g. SWE: the start state fails, the gold patch resolves, results repeat;
search-QA: the oracle finds every fact and the gold answer scores 1). The family is `--family`, or else the one
whose loader accepts the file. Prints a progress bar and a table; exits 1 when any file fails.

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
from prm.errors import PrmError
from prm.family import Family, Validation, load_ref
from prm.registration import families
from prm.scenario import scenario_files

console = Console()


def family_of_file(path: Path) -> Family:
    """The one family whose scenario loader accepts `path`; otherwise a `typer.BadParameter` saying why."""
    accepted, reasons = [], []
    for family in families().values():
        if family.loader is None or family.validator is None:
            continue
        try:
            family.load(path)
        except PrmError as err:
            reasons.append(f"{family.name}: {err}")
            continue
        accepted.append(family)
    if len(accepted) == 1:
        return accepted[0]
    if accepted:
        names = ", ".join(family.name for family in accepted)
        raise typer.BadParameter(f"{path} loads as more than one family ({names}); pass --family")
    raise typer.BadParameter(f"{path} is no family's scenario file:\n  " + "\n  ".join(reasons))


def _table(results: list[tuple[Family, Validation]]) -> Table:
    columns = list(dict.fromkeys(name for _, result in results for name in result.checks()))
    table = Table("file", "family", "id", *columns, "repeats", "result", "s", title="scenario validation")
    for family, result in results:
        verdict = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
        checks = result.checks()
        table.add_row(
            result.path.name,
            family.name,
            result.scenario_id or "-",
            *(checks.get(column, "") for column in columns),
            str(result.repeats),
            verdict,
            f"{result.seconds:.1f}",
        )
    return table


@scenario_app.command("validate")
def validate(
    paths: Annotated[list[Path], typer.Argument(help="scenario files or directories of them")],
    family: Annotated[
        str | None, typer.Option(help="the files' family (default: the one whose loader accepts each file)")
    ] = None,
    sandbox: Annotated[str, typer.Option(help="auto, docker or local (families with a sandbox)")] = "auto",
    repeats: Annotated[int, typer.Option(min=1, help="rounds of checks per file")] = 2,
) -> None:
    """Check scenario files: each family's own checks (e.g. SWE: start state fails, gold resolves, repeats)."""
    files = [file for path in paths for file in (scenario_files(path) if path.is_dir() else [path])]
    if not files:
        raise typer.BadParameter("no scenario files found", param_hint="PATHS")
    known = {name: declared for name, declared in families().items() if declared.validator}
    if family is not None and family not in known:
        raise typer.BadParameter(
            f"unknown family '{family}'; known: {', '.join(known)}", param_hint="--family"
        )
    results: list[tuple[Family, Validation]] = []
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("validating", total=len(files))
        for file in files:

            def stage(text: str, file: Path = file) -> None:
                progress.update(task, description=f"{escape(file.name)}: {escape(text)}")

            owner = known[family] if family else family_of_file(file)
            validator = load_ref(owner.validator)
            result = validator(file, sandbox=sandbox, repeats=repeats, on_stage=stage)
            results.append((owner, result))
            mark = "[green]ok[/green]" if result.ok else "[red]failed[/red]"
            console.print(f"{mark} {escape(str(file))} ({result.seconds:.1f} s)")
            progress.advance(task)
    console.print(_table(results))
    failed = [result for _, result in results if not result.ok]
    for result in failed:
        console.print(f"[red]FAILED[/red] {escape(result.problem or '')}")
    if failed:
        console.print(f"[red]{len(failed)} of {len(results)} scenario files failed[/red]")
        raise typer.Exit(code=1)
    console.print(f"[green]all {len(results)} scenario files are valid[/green]")
