"""The `prm` command line. Each verb lives in its own module under `prm.cli`; this module wires them up."""

from __future__ import annotations

from typing import Annotated

import typer

from prm.cli.errors import DEBUG_KEY, PrmGroup

app = typer.Typer(
    cls=PrmGroup,
    no_args_is_help=True,
    help="prm-gym: agentic Gymnasium environments with process rewards.",
)
scenario_app = typer.Typer(no_args_is_help=True, help="Author, validate and import scenario files.")
image_app = typer.Typer(no_args_is_help=True, help="Build sandbox images offline.")
bench_app = typer.Typer(
    no_args_is_help=True, help="Benchmarks; each prints ratios against a baseline run alongside."
)


@app.callback()
def _options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="show full tracebacks instead of one-line errors")
    ] = False,
) -> None:
    ctx.meta[DEBUG_KEY] = debug


app.add_typer(scenario_app, name="scenario")
app.add_typer(image_app, name="image")
app.add_typer(bench_app, name="bench")


def _register_family_commands() -> None:
    """`prm bench NAME` for every benchmark a family declares (`Family.benches`), `prm scenario NAME` for its
    scenario verbs (`Family.scenario_commands`)."""
    from prm.family import load_ref
    from prm.registration import families

    for family in families().values():
        for name, ref in family.benches.items():
            bench_app.command(name)(load_ref(ref))
        for name, ref in family.scenario_commands.items():
            scenario_app.command(name)(load_ref(ref))


_register_family_commands()

# Command modules register their verbs on the apps above when imported.
from prm.cli import (  # noqa: E402, F401
    bench_agents,
    bench_hostile,
    bench_load,
    bench_sandbox,
    bench_scale,
    clean,
    episodes,
    export,
    image,
    rewards,
    scenario_import,
    scenario_validate,
)
