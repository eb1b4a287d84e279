"""Summaries of many trajectories: success rate, mean return, mean steps, mean reward components, infra errors.

>>> from prm.models import OutcomeRecord, StepRecord, Trajectory, TrajectoryHeader
>>> header = TrajectoryHeader(env_id="prm/x", scenario_id="s", prm_version="0")
>>> ok = Trajectory(header=header, steps=[StepRecord(index=0, action="a", observation="o", reward=1.0,
...     reward_components={"outcome": 1.0})], outcome=OutcomeRecord(outcome={"reward": 1.0}, total_reward=1.0, num_steps=1))
>>> lost = Trajectory(header=header, outcome=OutcomeRecord(outcome={"reward": None}, infra_error=True))
>>> summary = summarize([ok, lost])
>>> summary.success_rate, summary.infra_errors, summary.components
(1.0, 1, {'outcome': 1.0})
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from rich.table import Table

from prm.models import Trajectory


@dataclass
class RolloutSummary:
    """Means over the scored episodes; episodes lost to the infrastructure are counted, not averaged in."""

    episodes: int
    scored: int
    infra_errors: int
    success_rate: float
    mean_return: float
    mean_steps: float
    components: dict[str, float] = field(default_factory=dict)


def summarize(trajectories: Sequence[Trajectory], success_threshold: float = 1.0) -> RolloutSummary:
    """Success = outcome reward >= `success_threshold`; component means are of each episode's sum."""
    scored = [t for t in trajectories if t.outcome is not None and not t.outcome.infra_error]
    totals: dict[str, list[float]] = defaultdict(list)
    for trajectory in scored:
        sums: dict[str, float] = defaultdict(float)
        for step in trajectory.steps:
            for name, value in step.reward_components.items():
                sums[name] += value
        for name, value in sums.items():
            totals[name].append(value)

    def mean(values: Sequence[float]) -> float:
        return sum(values) / len(values) if values else float("nan")

    outcomes = [(t.outcome.outcome or {}).get("reward") for t in scored]
    return RolloutSummary(
        episodes=len(trajectories),
        scored=len(scored),
        infra_errors=len(trajectories) - len(scored),
        success_rate=mean([float(r is not None and r >= success_threshold) for r in outcomes]),
        mean_return=mean([t.outcome.total_reward for t in scored]),
        mean_steps=mean([len(t.steps) for t in scored]),
        components={name: sum(values) / len(scored) for name, values in sorted(totals.items())},
    )


def summary_table(summary: RolloutSummary, title: str = "rollout") -> Table:
    table = Table("metric", "value", title=title)
    table.add_row("episodes (scored)", f"{summary.episodes} ({summary.scored})")
    table.add_row("infra errors", str(summary.infra_errors))
    table.add_row("success rate", f"{summary.success_rate:.3f}")
    table.add_row("mean return", f"{summary.mean_return:+.3f}")
    table.add_row("mean steps", f"{summary.mean_steps:.2f}")
    for name, value in summary.components.items():
        table.add_row(f"mean {name}", f"{value:+.3f}")
    return table
