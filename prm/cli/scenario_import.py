"""`prm scenario import FORMAT FILES... --out DIR`: convert a public data set's files into prm-gym scenario files.

The formats are the families' importers (`Family.importers`), e.g. `hotpotqa` (`prm/search-qa-v0`, one
question file). Each importer's docstring says which files it takes.

Example: `prm scenario import hotpotqa hotpot_dev_distractor_v1.json --out my_pack/`, then
`prm run prm/search-qa-v0 --scenario my_pack/<id>.yaml`.
"""

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

from prm.cli import scenario_app
from prm.family import load_ref
from prm.registration import families

console = Console()


def _importers() -> dict[str, str]:
    return {fmt: ref for family in families().values() for fmt, ref in family.importers.items()}


@scenario_app.command("import")
def import_scenarios(
    source_format: Annotated[
        str, typer.Argument(metavar="FORMAT", help=f"one of: {', '.join(_importers())}")
    ],
    files: Annotated[
        list[Path], typer.Argument(exists=True, help="the files to convert (the format says which)")
    ],
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", file_okay=False, help="folder for the scenario files")
    ],
) -> None:
    """Convert a data set's files into scenario files in DIR (one file per question)."""
    importers = _importers()
    if source_format not in importers:
        raise typer.BadParameter(
            f"unknown format '{source_format}'; known: {', '.join(importers)}", param_hint="FORMAT"
        )
    importer = load_ref(importers[source_format])
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console) as progress:
        written = importer(files, out, progress)
    console.print(f"[green]imported[/green] {len(written)} scenarios into {escape(str(out))}")
