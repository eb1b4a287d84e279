"""Latency rows of the `prm bench` tables: a measurement's p50 and p95 beside the p50 of a baseline measured in
the same run (so the ratio, the env's overhead, holds on any machine), with an optional target on the p50
(`target_s`) or on the ratio (`target_ratio`).

Example:
    >>> row = LatencyRow("step", [0.010, 0.012, 0.011], "bare exec", [0.005, 0.006, 0.0055], target_ratio=2.0)
    >>> f"{row.ratio:.1f}x", row.target, row.met
    ('2.0x', 'p50 <= 2x baseline', True)
    >>> times = timed(lambda: None, 3)
    >>> len(times)
    3
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rich.table import Table


@dataclass(frozen=True)
class LatencyRow:
    """One measurement's times (seconds) and its same-run baseline's, with an optional target."""

    name: str
    times: list[float]
    baseline_name: str
    baseline: list[float]
    target_s: float | None = None
    """The p50 must be under this many seconds."""
    target_ratio: float | None = None
    """The p50 must be at most this many times the baseline's p50."""

    @property
    def p50(self) -> float:
        return statistics.median(self.times)

    @property
    def p95(self) -> float:
        ordered = sorted(self.times)
        return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]

    @property
    def baseline_p50(self) -> float:
        return statistics.median(self.baseline)

    @property
    def ratio(self) -> float:
        return self.p50 / self.baseline_p50 if self.baseline_p50 else float("nan")

    @property
    def target(self) -> str:
        if self.target_s is not None:
            return f"p50 < {self.target_s:g} s"
        return "" if self.target_ratio is None else f"p50 <= {self.target_ratio:g}x baseline"

    @property
    def met(self) -> bool | None:
        """Whether the target is met (None without one)."""
        if self.target_s is not None:
            return self.p50 < self.target_s
        return None if self.target_ratio is None else self.ratio <= self.target_ratio


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """The wall-clock seconds of `n` calls of `fn`, one by one."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def latency_table(title: str, rows: Sequence[LatencyRow]) -> Table:
    """The rich table `prm bench` prints for latency rows."""
    table = Table(title=title)
    for column in (
        "measurement",
        "p50",
        "p95",
        "baseline (same run)",
        "baseline p50",
        "ratio",
        "target",
        "met",
    ):
        table.add_column(
            column, justify="left" if column in ("measurement", "baseline (same run)") else "right"
        )
    for row in rows:
        met = "" if row.met is None else ("[green]yes[/green]" if row.met else "[red]no[/red]")
        table.add_row(
            row.name,
            _ms(row.p50),
            _ms(row.p95),
            row.baseline_name,
            _ms(row.baseline_p50),
            f"{row.ratio:.2f}x",
            row.target,
            met,
        )
    return table
