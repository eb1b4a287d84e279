"""`prm image build`: build sandbox images offline (base image, then Python packages and files on top)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from prm.cli import image_app
from prm.sandboxes.images import build_base_image, build_image

console = Console()


def _parse_copy(pairs: list[str]) -> dict[str, Path]:
    files = {}
    for pair in pairs:
        dest, sep, src = pair.partition("=")
        if not sep or not dest.startswith("/") or not src:
            raise typer.BadParameter(f"'{pair}' is not /PATH/IN/IMAGE=HOST_PATH", param_hint="--copy")
        files[dest] = Path(src)
    return files


@image_app.command("build")
def build(
    requirement: Annotated[
        list[str] | None, typer.Option("--requirement", "-r", help="a pip requirement (repeatable)")
    ] = None,
    requirements_file: Annotated[
        Path | None, typer.Option("--requirements-file", "-f", help="a requirements.txt", exists=True)
    ] = None,
    copy: Annotated[
        list[str] | None, typer.Option("--copy", help="/path/in/image=host_path (repeatable)")
    ] = None,
    refresh: Annotated[bool, typer.Option(help="resolve requirements again even if cached")] = False,
) -> None:
    """Build the base image (debootstrap + docker import) and, given requirements or files, a layer on top.

    Prints the resulting image tag; a second run with the same inputs is a no-op.

    Example: prm image build -r pytest==8.3.3 --copy /opt/repo=./myrepo
    """
    requirements = list(requirement or [])
    if requirements_file is not None:
        lines = (line.split("#", 1)[0].strip() for line in requirements_file.read_text().splitlines())
        requirements += [line for line in lines if line]
    base = build_base_image()
    tag = build_image(requirements, files=_parse_copy(copy or []), base=base, refresh=refresh)
    console.print(f"base image: {base}")
    typer.echo(tag)
