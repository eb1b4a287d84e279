"""`prm rescore`, `prm train-value` and `prm bench rewards`: the reward wrappers' command-line verbs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from prm.cli import app, bench_app

console = Console()


@app.command("rescore")
def rescore_command(
    file: Annotated[Path, typer.Argument(help="a trajectory file (JSONL) written by `prm run`")],
    reward: Annotated[
        list[str], typer.Option(help="reward spec, repeatable, e.g. lsp:w_warn=0, gated:threshold=1")
    ],
    out: Annotated[Path | None, typer.Option(help="write the re-scored trajectory here")] = None,
) -> None:
    """Recompute a trajectory's step rewards for other reward specs: offline from stored bundles and
    components where they suffice, by replaying the actions otherwise."""
    from prm.rewards.rescore import rescore
    from prm.trajectory import load_trajectory, write_trajectory

    trajectory = load_trajectory(file)
    rescored = rescore(trajectory, reward)
    table = Table(
        "step",
        "tool",
        "old reward",
        "new reward",
        "components",
        title=f"{file} rescored: {', '.join(reward)}",
    )
    for old, new in zip(trajectory.steps, rescored.steps, strict=False):
        parts = " ".join(f"{name}={value:+.3g}" for name, value in sorted(new.reward_components.items()))
        table.add_row(
            str(new.index),
            str(new.info.get("tool") or "-"),
            f"{old.reward:+.3f}",
            f"{new.reward:+.3f}",
            parts,
        )
    console.print(table)
    old_total, new_total = sum(trajectory.rewards), sum(rescored.rewards)
    console.print(f"return: {old_total:+.3f} -> {new_total:+.3f}")
    if out is not None:
        write_trajectory(out, rescored)
        console.print(f"wrote {out}")


@app.command("train-value")
def train_value_command(
    files: Annotated[list[Path], typer.Argument(help="trajectory files or directories of them")],
    out: Annotated[Path, typer.Option(help="where to save the model (use as progress:value:model=PATH)")],
    epochs: Annotated[int, typer.Option(min=1)] = 200,
    lr: Annotated[float, typer.Option(min=0.0)] = 1e-2,
    seed: int = 0,
) -> None:
    """Fit a value model V(s) on recorded trajectories' Monte Carlo labels (each state labelled with its
    episode's outcome reward)."""
    from prm.rewards.value_model import fit_value_model
    from prm.trajectory import load_trajectory

    paths = [p for f in files for p in (sorted(f.rglob("*.jsonl")) if f.is_dir() else [f])]
    trajectories = [load_trajectory(path) for path in paths]
    model, stats = fit_value_model(trajectories, epochs=epochs, lr=lr, seed=seed)
    model.save(out)
    console.print(
        f"trained on {stats['samples']} states from {len(trajectories)} trajectories: "
        f"mse {stats['initial_mse']:.4f} -> {stats['final_mse']:.4f}; saved {out}"
    )


@bench_app.command("rewards")
def bench_rewards_command(
    scenarios: Annotated[
        list[str] | None,
        typer.Option("--scenario", help="scenario ids or files (default: the packaged packs)"),
    ] = None,
    env_id: Annotated[
        str | None,
        typer.Option("--env", help="a code-repair env id (default: every family declaring repairs_code)"),
    ] = None,
    edits: Annotated[int, typer.Option(min=1, help="timed edit steps per scenario for the LSP overhead")] = 5,
    sandbox: Annotated[str, typer.Option(help="auto, docker or local")] = "auto",
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the numbers to this JSON file")
    ] = None,
) -> None:
    """Reward fidelity on labelled code-repair steps (AUROC harmful vs good per signal), gating against a
    reward-farming agent, and the LSP reward's overhead per edit step."""
    from prm.bench.rewards import print_report, run_reward_benchmark

    result = run_reward_benchmark(
        scenarios or None, env_id=env_id, edits=edits, sandbox=sandbox, progress=console
    )
    print_report(result, console)
    if json_out is not None:
        json_out.write_text(result.model_dump_json(indent=2))
        console.print(f"wrote {json_out}")


@bench_app.command("model-rewards")
def bench_model_rewards_command(
    scenarios: Annotated[int, typer.Option(min=0, help="search-QA scenarios (half fit the tiny models)")] = 8,
    swe_scenarios: Annotated[int, typer.Option(min=0, help="SWE scenarios (half fit the tiny models)")] = 4,
    judge_base_url: Annotated[
        str | None, typer.Option(help="an OpenAI-compatible endpoint whose judge is scored too")
    ] = None,
    judge_model: Annotated[str, typer.Option(help="the endpoint's model name")] = "judge",
    signal: Annotated[
        list[str] | None,
        typer.Option(
            help="more specs scored offline, e.g. implicit:policy=PATH,ref=PATH (named by their text)"
        ),
    ] = None,
    sandbox: Annotated[str, typer.Option(help="the SWE episodes' sandbox: auto, docker or local")] = "auto",
    fit_seconds: Annotated[float, typer.Option(help="time limit of each tiny model's fit")] = 30.0,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the rows to this JSON file")
    ] = None,
) -> None:
    """AUROC harmful-vs-good of model-based signals (tiny fitted judge and implicit PRM, an endpoint's judge,
    given specs) beside the rule-based ones, on the same labelled SWE and search-QA steps."""
    import json
    import os
    import tempfile

    from prm.bench.model_rewards import SEARCH_QA, SWE, print_model_report, run_model_reward_benchmark
    from prm.registration import env_class

    if scenarios == 1 or swe_scenarios == 1 or scenarios + swe_scenarios == 0:
        raise typer.BadParameter(
            "give 0 or at least 2 scenarios of a pack, and some (half fit the tiny models)",
            param_hint="--scenarios/--swe-scenarios",
        )
    if judge_base_url:
        os.environ["OPENAI_BASE_URL"] = judge_base_url
    with tempfile.TemporaryDirectory() as work:
        rows = run_model_reward_benchmark(
            env_class(SEARCH_QA).scenario_ids()[:scenarios],
            env_class(SWE).scenario_ids()[:swe_scenarios],
            Path(work),
            signals={text: text for text in signal or []},
            judge_model=judge_model if judge_base_url else None,
            sandbox=sandbox,
            fit_seconds=fit_seconds,
            progress=console,
        )
    print_model_report(rows, console)
    if json_out is not None:
        json_out.write_text(json.dumps([row.model_dump() for row in rows], indent=2))
        console.print(f"wrote {json_out}")
