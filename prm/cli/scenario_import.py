"""`prm scenario import FORMAT FILE --out DIR`: convert a public data set's file into prm-gym scenario files.

Formats (the `IMPORTERS` table; a family adds its own):
- `hotpotqa`: a HotpotQA question file (JSON array or JSON Lines; the packaged pack's layout with
  `context_titles`, or the original release's with `_id` and `context` paragraphs) -> `DIR/<id>.yaml`, one
  `prm/search-qa-v0` scenario per question, plus `DIR/corpus.jsonl.gz` when the file carries paragraphs.

Example: `prm scenario import hotpotqa hotpot_dev_distractor_v1.json --out my_pack/`, then
`prm run prm/search-qa-v0 --scenario my_pack/<id>.yaml`.
"""

from __future__ import annotations

from collections.abc import Callable
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
from prm.errors import ScenarioError

console = Console()


def _import_hotpotqa(file: Path, out: Path, progress: Progress) -> list[Path]:
    # imported here, not at the top: keeps `prm` start-up fast (bm25s is slow to import)
    from prm.envs.search_qa.scenarios import read_questions, write_scenarios

    reading = progress.add_task(f"reading {escape(file.name)}", total=None)
    questions = read_questions(file)
    progress.update(reading, total=1, completed=1)
    writing = progress.add_task(f"writing {escape(str(out))}", total=len(questions))
    return write_scenarios(questions, out, on_written=lambda _: progress.advance(writing))


IMPORTERS: dict[str, Callable[[Path, Path, Progress], list[Path]]] = {"hotpotqa": _import_hotpotqa}


@scenario_app.command("import")
def import_scenarios(
    source_format: Annotated[str, typer.Argument(metavar="FORMAT", help=f"one of: {', '.join(IMPORTERS)}")],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="the file to convert")],
    out: Annotated[
        Path, typer.Option("--out", metavar="DIR", file_okay=False, help="folder for the scenario files")
    ],
) -> None:
    """Convert a data set file into scenario files in DIR (one file per question)."""
    importer = IMPORTERS.get(source_format)
    if importer is None:
        raise typer.BadParameter(
            f"unknown format '{source_format}'; known: {', '.join(IMPORTERS)}", param_hint="FORMAT"
        )
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    ]
    try:
        with Progress(*columns, console=console) as progress:
            written = importer(file, out, progress)
    except ScenarioError as err:
        console.print(f"[red]error:[/red] {escape(str(err))}", soft_wrap=True, highlight=False)
        raise typer.Exit(1) from err
    console.print(f"[green]imported[/green] {len(written)} scenarios into {escape(str(out))}")
