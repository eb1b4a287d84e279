"""`prm bench web` (typer command; heavy imports inside)."""

from __future__ import annotations

import typer

DEFAULT_TASKS = "click-test,click-button,enter-text,click-checkboxes,choose-list"


def bench(
    tasks: str = typer.Option(DEFAULT_TASKS, help="MiniWoB++ task names, comma-separated"),
    envs: int = typer.Option(4, min=1, help="copies open at once per contender"),
    resets: int = typer.Option(3, min=1, help="resets per copy"),
    steps: int = typer.Option(10, min=1, help="no-op steps per copy"),
    contenders: str = typer.Option("prm,browsergym,selenium", help="which to run, comma-separated"),
    timeout_s: float = typer.Option(600, help="limit per contender"),
) -> None:
    """prm/web-v0 vs BrowserGym vs the miniwob Selenium env on the same MiniWoB++ pages: latency and memory."""
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from prm.envs.web.bench import CONTENDERS, run_contender

    chosen = [name.strip() for name in contenders.split(",") if name.strip()]
    unknown = set(chosen) - set(CONTENDERS)
    if unknown:
        raise typer.BadParameter(f"unknown contenders {sorted(unknown)}; known: {', '.join(CONTENDERS)}")
    task_list = [task.strip() for task in tasks.split(",") if task.strip()]
    results = {}
    with Progress() as progress:
        job = progress.add_task("contenders", total=len(chosen))
        for name in chosen:
            progress.update(job, description=f"measuring {name}")
            results[name] = run_contender(name, task_list, envs, resets, steps, timeout_s)
            progress.advance(job)
    ours = results.get("prm")
    table = Table(
        title=f"prm bench web: {len(task_list)} MiniWoB++ tasks, {envs} envs, {steps} no-op steps each"
    )
    for column in (
        "contender",
        "reset s",
        "step s",
        "our step / theirs",
        "chromium procs/env",
        "RSS MB/env",
        "error",
    ):
        table.add_column(column)
    for name, m in results.items():
        ratio = (
            f"{ours.step_s / m.step_s:.3f}x"
            if ours and name != "prm" and m.error is None and ours.error is None
            else "-"
        )
        table.add_row(
            name,
            f"{m.reset_s:.3f}",
            f"{m.step_s:.4f}",
            ratio,
            f"{m.processes_per_env:.1f}",
            f"{m.rss_mb_per_env:.0f}",
            m.error or "",
        )
    Console().print(table)
