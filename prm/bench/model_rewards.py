"""`prm bench model-rewards`: do model-based step signals separate harmful search-QA steps from good ones?

Labelled steps: in each `prm/search-qa-v0` scenario the oracle's steps (search a gold title, open it, answer)
are *good*; after the first one two *harmful* steps are inserted: the same call again (`repeat`) and an
off-topic search (`off-topic`). Every signal scores the same episodes; per signal, the AUROC of separating
harmful from good steps by the step's component (1.0 = every good step above every harmful one, ties half):

- `info_gain` (the rule-based evidence-recall signal, the baseline);
- a *tiny judge* (`judge:ternary:backend=hf`): a tiny model (`prm.agents.tiny`) fitted for seconds on the
  judge prompts of the first half of the scenarios, labelled `VERDICT: correct` (good) or
  `VERDICT: irrecoverable` (harmful), and scored on the other half only (the AUROC rows count that half);
- any other spec given (`--signal judge:ternary:model=NAME` with `OPENAI_BASE_URL` pointing at an endpoint,
  `--signal implicit:policy=PATH,ref=PATH`). A `judge` spec given here takes the tiny judge's place (both
  would write the component `judge`).

A step whose signal was not scored (an unparsable judge reply: `infra_error`) is counted apart, not as a zero.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import gymnasium as gym
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from prm.bench.rewards import auroc
from prm.models import StepRecord, Trajectory, TrajectoryHeader
from prm.rewards.judge import step_prompt
from prm.rewards.spec import apply_rewards, parse_spec
from prm.tools import describe_tools

ENV = "prm/search-qa-v0"
OFF_TOPIC = json.dumps({"tool": "search", "args": {"query": "weather forecast for tomorrow"}})
VERDICTS = {"good": "VERDICT: correct", "harmful": "VERDICT: irrecoverable"}
JUDGE_HISTORY = 2


class ModelStep(BaseModel):
    scenario: str
    label: Literal["good", "harmful"]
    category: str
    prompt: str
    components: dict[str, float]


class ModelSignalScore(BaseModel):
    signal: str
    auroc: float | None
    good: int
    harmful: int
    unscored: int


def labelled_episode(scenario: str, signals: list[str]) -> list[ModelStep]:
    """Plays the labelled steps of one scenario under `signals`; each step's judge prompt is kept."""
    env = (
        apply_rewards(gym.make(ENV, scenario=scenario), signals)
        if signals
        else gym.make(ENV, scenario=scenario)
    )
    try:
        env.reset(seed=0)
        base = env.unwrapped
        oracle = base.oracle_actions()
        plan = [
            (oracle[0], "good", "oracle"),
            (oracle[0], "harmful", "repeat"),
            (OFF_TOPIC, "harmful", "off-topic"),
        ]
        plan += [(action, "good", "oracle") for action in oracle[1:]]
        steps = []
        for action, label, category in plan:
            _, _, _, _, info = env.step(action)
            prompt = step_prompt(
                f"{base.task}\n\n{describe_tools(base.tools)}", list(base.history), JUDGE_HISTORY
            )
            steps.append(
                ModelStep(
                    scenario=scenario,
                    label=label,
                    category=category,
                    prompt=prompt,
                    components=dict(info["reward_components"]),
                )
            )
        return steps
    finally:
        env.close()


def fit_tiny_judge(steps: list[ModelStep], out: Path, *, seconds: float = 30.0) -> Path:
    """A tiny model fitted to answer each step's judge prompt with its label's verdict (the rarer label's
    steps repeated so both labels weigh the same); saved to `out`."""
    from prm.agents.tiny import build_tiny_model, fit_on_trajectories

    counts = {label: sum(step.label == label for step in steps) for label in VERDICTS}
    steps = [step for step in steps for _ in range(max(counts.values()) // max(counts[step.label], 1))]
    examples = [
        Trajectory(
            header=TrajectoryHeader(
                env_id=ENV, scenario_id=step.scenario, prm_version="bench", initial_observation=step.prompt
            ),
            steps=[StepRecord(index=0, action=VERDICTS[step.label], observation="", reward=0.0)],
        )
        for step in steps
    ]
    model, tokenizer = build_tiny_model(examples, hidden=64)
    return fit_on_trajectories(model, tokenizer, examples, steps=300, max_seconds=seconds).save(out)


def score_signals(steps: list[ModelStep], names: list[str]) -> list[ModelSignalScore]:
    rows = []
    for name in names:
        scored = [step for step in steps if name in step.components]
        good = [step.components[name] for step in scored if step.label == "good"]
        harmful = [step.components[name] for step in scored if step.label == "harmful"]
        rows.append(
            ModelSignalScore(
                signal=name,
                auroc=auroc(good, harmful),
                good=len(good),
                harmful=len(harmful),
                unscored=len(steps) - len(scored),
            )
        )
    return rows


def run_model_reward_benchmark(
    scenarios: list[str], work: Path, *, signals: list[str] | tuple[str, ...] = (), fit_seconds: float = 30.0
) -> list[ModelSignalScore]:
    """Fits the tiny judge on the first half of `scenarios` and scores every signal on the second half."""
    half = len(scenarios) // 2
    if half < 1:
        raise ValueError("prm bench model-rewards needs at least 2 scenarios (half to fit the judge on)")
    specs = ["info_gain", *signals]
    if not any(parse_spec(spec).name == "judge" for spec in signals):
        train = [step for scenario in scenarios[:half] for step in labelled_episode(scenario, [])]
        judge = fit_tiny_judge(train, work / "tiny-judge", seconds=fit_seconds)
        specs.append(f"judge:ternary:backend=hf,model={judge},history={JUDGE_HISTORY},cache=false")
    test = [step for scenario in scenarios[half:] for step in labelled_episode(scenario, specs)]
    names = list(dict.fromkeys(parse_spec(spec).name for spec in specs))
    return score_signals(test, names)


def print_model_report(rows: list[ModelSignalScore], console: Console) -> None:
    table = Table(
        "signal", "AUROC harmful vs good", "good", "harmful", "unscored", title="model-based signals"
    )
    for row in rows:
        value = "-" if row.auroc is None else f"{row.auroc:.3f}"
        table.add_row(row.signal, value, str(row.good), str(row.harmful), str(row.unscored))
    console.print(table)
