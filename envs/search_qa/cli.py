"""`prm/search-qa-v0`'s command-line verbs (found through the family declaration): `prm bench search`.

bm25s is slow to import: heavy modules are imported inside the commands, so `prm --help` stays fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def bench(
    queries: Annotated[
        int, typer.Option(min=10, help="search steps to time per query set (the questions, the gold titles)")
    ] = 600,
    episodes: Annotated[int, typer.Option(min=1, help="oracle episodes per mode")] = 200,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="also write the numbers to this JSON file")
    ] = None,
) -> None:
    """Time search steps against a bare bm25s query over the HotpotQA corpus (target: step p50 < 2 ms)."""
    from prm.envs.search_qa.bench import TARGET_P50_MS, SearchBenchResult, run_search_benchmark

    with console.status("running the search benchmark"):
        result = run_search_benchmark(queries=queries, episodes=episodes)

    builds = Table("index", "seconds", "x bare", title=f"index build, {result.documents} paragraphs")
    bare_build = next(iter(result.build_s.values()))
    for name, seconds in result.build_s.items():
        builds.add_row(name, f"{seconds:.3f}", f"{seconds / bare_build:.2f}")
    latency = Table(
        "queries",
        "query path",
        "p50 ms",
        "p95 ms",
        "x bare (p50)",
        title=f"search latency, {result.queries} queries",
    )
    for query_set, rows in result.rows.items():
        for path, row in rows.items():
            ratio = result.ratio(query_set, path)
            latency.add_row(query_set, path, f"{row.p50_ms:.3f}", f"{row.p95_ms:.3f}", f"{ratio:.2f}")
    throughput = Table(
        "oracle run", "episodes", "solved", "episodes/s", "steps/s", title="episode throughput"
    )
    for name, row in result.throughput.items():
        throughput.add_row(
            name,
            str(row["episodes"]),
            str(row["solved"]),
            f"{row['episodes_per_s']:.1f}",
            f"{row['steps_per_s']:.1f}",
        )
    for table in (builds, latency, throughput):
        console.print(table)
    for query_set, rows in result.rows.items():
        step_p50 = rows[SearchBenchResult.STEP].p50_ms
        verdict = "[green]met[/green]" if step_p50 < TARGET_P50_MS else "[red]missed[/red]"
        console.print(
            f"target {SearchBenchResult.STEP} p50 < {TARGET_P50_MS} ms on {query_set}: {verdict} ({step_p50:.3f} ms)"
        )
    console.print(f"baseline: {SearchBenchResult.BASELINE}, measured in this run")
    if json_out is not None:
        json_out.write_text(json.dumps(result.to_dict(), indent=2))
        console.print(f"wrote {json_out}")
