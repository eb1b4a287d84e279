"""`prm run`, `prm replay` and `prm list`: run agents in envs, re-execute recorded episodes, see what exists."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import prm
from prm.agents import Agent, AgentError, AgentSpecError, ModelAgent, make_agent
from prm.cli import app
from prm.cli.errors import make_env
from prm.models import StepRecord
from prm.registration import ENV_IDS, env_class, families
from prm.rewards.spec import parse_specs
from prm.rollout import rollout, run_episode, step_record
from prm.scenario import locate_recorded_scenario
from prm.trajectory import load_trajectory, reserve_path

console = Console()
if not console.is_terminal:  # piped: tables keep whole ids and paths instead of cutting them to 80 columns
    console = Console(width=100_000)


def _parse_kwargs(pairs: list[str]) -> dict[str, Any]:
    kwargs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"'{pair}' is not KEY=VALUE", param_hint="--kw")
        kwargs[key] = yaml.safe_load(value)
    return kwargs


def _make_agent(spec: str, base_url: str | None) -> Agent:
    try:
        return make_agent(spec, base_url=base_url)
    except (AgentSpecError, AgentError) as err:
        raise typer.BadParameter(str(err), param_hint="--agent") from None


def _scenario_cycle(env_id: str, scenario: str | None) -> itertools.cycle:
    """The scenario of each episode: None (the env draws one from the pack by the episode's seed), each file
    of a directory in turn, or the one id or file given."""
    if scenario is None:
        return itertools.cycle([None])
    if Path(scenario).is_dir():
        refs = env_class(env_id).scenario_ids(scenario)
        if not refs:
            raise typer.BadParameter(f"no scenarios under {scenario}", param_hint="--scenario")
        return itertools.cycle(refs)
    return itertools.cycle([scenario])


def _format_components(components: dict[str, float]) -> str:
    return " ".join(f"{name}={value:+.3f}" for name, value in sorted(components.items()))


def _print_step(record: StepRecord) -> None:
    flags = " [red]INFRA ERROR[/red]" if record.info.get("infra_error") else ""
    error = (
        f" [yellow]error: {record.info['error']}[/yellow]" if record.info.get("error") and not flags else ""
    )
    console.print(
        f"  step {record.index:>3}  {record.info.get('tool') or '-':<8} reward={record.reward:+.3f}  "
        f"{_format_components(record.reward_components)}{flags}{error}",
        soft_wrap=True,  # one line per step, also when piped
    )


def _outcome_summary(outcome: dict[str, Any] | None) -> str:
    if not outcome:
        return "-"
    return " ".join(
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
        for k, v in outcome.items()
        if isinstance(v, (bool, int, float))
    )


@app.command()
def run(
    env_id: Annotated[str, typer.Argument(help="a registered env id, e.g. prm/swe-v0 (see `prm list`)")],
    scenario: Annotated[
        str | None, typer.Option(help="scenario id, file, or a directory to cycle through")
    ] = None,
    agent: Annotated[
        str,
        typer.Option(
            help="oracle, oracle:detour (a type error added and fixed first), replay:TRAJECTORY.jsonl, openai:MODEL, hf:PATH or vllm:PATH"
        ),
    ] = "oracle",
    base_url: Annotated[
        str | None,
        typer.Option(help="OpenAI-compatible endpoint for openai:MODEL, e.g. http://localhost:8000/v1"),
    ] = None,
    num_envs: Annotated[
        int, typer.Option(min=1, help="envs stepped at once; the policy is called once per step for all")
    ] = 1,
    episodes: Annotated[int, typer.Option(min=1)] = 1,
    backend: Annotated[
        Literal["local", "ray"],
        typer.Option(help="local: envs in this process; ray: one Ray actor per env (prm-gym[ray])"),
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address (HOST:PORT) for --backend ray; default: a local Ray"),
    ] = None,
    out: Annotated[Path, typer.Option(help="folder for the JSONL trajectories")] = Path("runs"),
    seed: Annotated[int, typer.Option(help="seed of the first episode; episode i uses seed+i")] = 0,
    sandbox: Annotated[
        str | None, typer.Option(help="auto, docker or local (families with a sandbox)")
    ] = None,
    reward: Annotated[
        list[str], typer.Option(help="reward spec, repeatable, e.g. lsp, gated:threshold=1")
    ] = [],  # noqa: B006
    kw: Annotated[list[str], typer.Option(help="extra make() argument KEY=VALUE, repeatable")] = [],  # noqa: B006
) -> None:
    """Run an agent for N episodes, printing step rewards and outcomes, and write trajectories."""
    if env_id not in ENV_IDS:
        raise typer.BadParameter(
            f"unknown env '{env_id}'; registered: {', '.join(ENV_IDS)}", param_hint="ENV_ID"
        )
    make_kwargs = _parse_kwargs(kw) | ({"sandbox": sandbox} if sandbox else {})
    parse_specs(reward)  # a bad spec fails before any env is built
    scenarios = _scenario_cycle(env_id, scenario)
    player = _make_agent(agent, base_url)
    if address is not None and backend != "ray":
        raise typer.BadParameter("--address needs --backend ray", param_hint="--address")
    if num_envs > 1 or isinstance(player, ModelAgent) or backend == "ray":
        rollout(
            env_id,
            player,
            scenarios=list(itertools.islice(scenarios, episodes)),
            episodes=episodes,
            num_envs=num_envs,
            rewards=reward,
            out=out,
            seed=seed,
            env_kwargs=make_kwargs,
            backend=backend,
            address=address,
            console=console,
        )
        console.print(f"trajectories written to {out}/")
        return
    summary = Table("episode", "scenario", "steps", "return", "outcome", title=f"{env_id} x {episodes}")
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("episodes", total=episodes)
        for episode in range(episodes):
            scenario_ref = next(scenarios)
            label = Path(scenario_ref).stem if scenario_ref else "pack"
            console.print(
                f"[bold]episode {episode}[/bold] scenario={scenario_ref or f'drawn from the pack (seed {seed + episode})'}"
            )
            env = make_env(
                env_id,
                **({"scenario": scenario_ref} if scenario_ref else {}),
                **make_kwargs,
                **({"rewards": reward} if reward else {}),
            )
            path = reserve_path(out / f"{env_id.replace('/', '_')}-{label}-{episode:04d}.jsonl")
            try:
                trajectory = run_episode(
                    env,
                    player,
                    seed=seed + episode,
                    out=path,
                    scenario_id=scenario_ref,
                    env_kwargs=make_kwargs,
                    reward_config=reward,
                    on_step=_print_step,
                )
            finally:
                env.close()
            result = trajectory.outcome
            console.print(f"  outcome: {_outcome_summary(result.outcome)}  return={result.total_reward:+.3f}")
            console.print(f"  wrote {path}", soft_wrap=True, highlight=False)
            summary.add_row(
                str(episode),
                trajectory.header.scenario_id,
                str(result.num_steps),
                f"{result.total_reward:+.3f}",
                "[red]infra error[/red]" if result.infra_error else _outcome_summary(result.outcome),
            )
            progress.advance(task)
    console.print(summary)
    console.print(f"trajectories written to {out}/ (existing files are never overwritten)", soft_wrap=True)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


@app.command()
def replay(file: Annotated[Path, typer.Argument(help="a trajectory JSONL file")]) -> None:
    """Re-execute a trajectory in a fresh env and report every step whose observation or reward differs."""
    trajectory = load_trajectory(file)
    header = trajectory.header
    rewards = {"rewards": header.reward_config} if header.reward_config else {}
    scenario, which = locate_recorded_scenario(
        header.scenario_id, header.scenario_path, header.scenario_sha256
    )
    console.print(f"replaying with {which}", soft_wrap=True, highlight=False)
    env = make_env(header.env_id, scenario=scenario, **header.env_kwargs, **rewards)
    differences = Table("step", "field", "recorded", "replayed", title=f"replay of {file}")
    try:
        observation, _ = env.reset(seed=header.seed)
        if observation != header.initial_observation:
            differences.add_row(
                "reset", "observation", str(header.initial_observation)[:80], str(observation)[:80]
            )
        for recorded in trajectory.steps:
            replayed = step_record(recorded.index, recorded.action, *env.step(recorded.action))
            for field in ("observation", "reward", "reward_components", "terminated", "truncated"):
                old, new = getattr(recorded, field), getattr(replayed, field)
                same = (
                    _same(old, new)
                    if field != "reward_components"
                    else (old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old))
                )
                if not same:
                    differences.add_row(str(recorded.index), field, str(old)[:80], str(new)[:80])
    finally:
        env.close()
    if differences.row_count:
        console.print(differences)
        raise typer.Exit(1)
    console.print(
        f"[green]identical[/green]: {len(trajectory.steps)} steps of {file} replayed with the same observations and rewards"
    )


def _family_env_id(family: str) -> str:
    """The env id a family name means: its name (`swe`, `search-qa` or `search_qa`) or the env id itself."""
    for declared in families().values():
        if family == declared.env_id or family.lower().replace("-", "_") == declared.name:
            return declared.env_id
    names = ", ".join(name.replace("_", "-") for name in families())
    raise typer.BadParameter(f"unknown family '{family}'; families: {names}", param_hint="FAMILY")


@app.command("list")
def list_envs(
    family: Annotated[
        str | None, typer.Argument(help="a family (e.g. swe, search-qa): list all its scenarios")
    ] = None,
) -> None:
    """Show the registered envs and the scenarios that ship with each; with FAMILY, every scenario of it."""
    if family is not None:
        env_id = _family_env_id(family)
        entries = env_class(env_id).scenario_catalog()
        table = Table("scenario id", "split", "title", title=f"{env_id}: {len(entries)} scenarios")
        table.columns[0].no_wrap = True
        for entry in entries:
            title = entry.title if len(entry.title) <= 90 else entry.title[:89] + "…"
            table.add_row(entry.id, entry.split or "-", title)
        console.print(table)
        return
    table = Table("env id", "scenarios", "examples", title=f"prm-gym {prm.__version__}")
    table.columns[0].no_wrap = True
    for env_id in ENV_IDS:
        ids = env_class(env_id).scenario_ids()
        table.add_row(env_id, str(len(ids)), ", ".join(ids[:3]) + (" ..." if len(ids) > 3 else ""))
    console.print(table)
    console.print("all scenarios of a family: prm list FAMILY (e.g. prm list swe)")
