"""`prm clean`: remove the sandboxes that killed processes left behind (containers and host directories).

A sandbox is left behind when the process that made it is no longer running (see `prm.sandboxes.labels`);
sandboxes of running processes, of other hosts, or without owner labels are never touched.
"""

from __future__ import annotations

from typing import Annotated

import typer
from docker.errors import DockerException
from rich.console import Console

from prm.cli import app
from prm.sandboxes.cow import remove_root
from prm.sandboxes.labels import left_behind_containers, left_behind_dirs
from prm.sandboxes.select import docker_engine_problem

console = Console()


@app.command("clean")
def clean(dry_run: Annotated[bool, typer.Option(help="only list what would be removed")] = False) -> None:
    """Remove sandbox containers and directories whose owner process is gone."""
    verb = "would remove" if dry_run else "removed"
    if docker_engine_problem() is None:
        import docker

        client = docker.from_env()
        try:
            for container in left_behind_containers(client):
                if not dry_run:
                    try:
                        container.remove(force=True)
                    except DockerException as err:
                        console.print(f"could not remove container {container.short_id}: {err}")
                        continue
                console.print(f"{verb} container {container.short_id} ({container.name})")
        finally:
            client.close()
    else:
        console.print("no Docker engine answers: only host directories are checked")
    for root in left_behind_dirs():
        if not dry_run:
            remove_root(root)
        console.print(f"{verb} {root}")
