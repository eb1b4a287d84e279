"""`prm export`: trajectories to Parquet or a Hugging Face dataset (see `prm.export`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.console import Console

from prm.cli import app
from prm.errors import TrajectoryError

console = Console()


@app.command()
def export(
    runs: Annotated[list[Path], typer.Argument(help="trajectory files or folders of them")],
    out: Annotated[Path, typer.Option(help="output folder")],
    format: Annotated[
        Literal["parquet", "hf"], typer.Option("--format", help="parquet files or a datasets.DatasetDict")
    ] = "parquet",
) -> None:
    """Write one row per step and one per episode (token ids, loss mask, log-probabilities) for trainers."""
    from prm.export import export_trajectories

    try:
        written = export_trajectories(runs, out=out, fmt=format)
    except TrajectoryError as err:
        raise typer.BadParameter(str(err), param_hint="RUNS") from None
    for name, path in written.items():
        console.print(f"{name}: {path}")
