"""`prm bench model-rewards`: do model-based step signals separate harmful steps from good ones, beside the
rule-based signals, on the same labelled steps of the SWE and search-QA packs?

Labelled steps, per pack:

- `prm/search-qa-v0`: in each scenario the oracle's steps (search a gold title, open it, answer) are *good*;
  after the first one two *harmful* steps are inserted: the same call again (`repeat`) and an off-topic search
  (`off-topic`). Rule-based signal: `info_gain` (evidence recall).
- `prm/swe-v0`: the labelled steps of `prm bench rewards` (`prm.bench.rewards.labelled_repair_episode`): harmful
  edits of seven kinds, each checked before it counts, then the gold hunks (good). Rule-based signals: `lsp`
  and `progress` (`progress:test_pass`). Neutral steps and harmful labels that did not hold are left out.

Each pack's scenarios are split in halves: the first half fits the tiny models, the second half is scored
(the AUROC rows count that half only). The model signals score the recorded episodes offline, from their
text, exactly as `prm rescore` does (`offline_values` of the spec), so every signal reads the same steps:

- `judge (tiny)` (`judge:ternary:backend=hf`): a tiny model (`prm.agents.tiny`) fitted for seconds on the
  judge prompts of the fitting halves of both packs, labelled `VERDICT: correct` (good) or
  `VERDICT: irrecoverable` (harmful);
- `judge (endpoint)`: `judge:ternary:model=NAME` on any OpenAI-compatible endpoint (`--judge-base-url`);
- `implicit (tiny)` (`implicit:policy=P,ref=R,beta=1`, PRIME): the policy is a tiny model fitted on the good
  steps of the fitting halves, the reference is the same model before fitting;
- any other spec given (`--signal implicit:policy=PATH,ref=PATH`), named by its text.

Per signal, the AUROC of separating harmful from good steps by the step's component (1.0 = every good step
above every harmful one, ties half). A step a signal left unscored (e.g. an unparsable judge reply) is counted
apart, not as a zero.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import gymnasium as gym
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from prm.bench.rewards import auroc, episode_record, labelled_repair_episode
from prm.models import StepRecord, Trajectory, TrajectoryHeader
from prm.rewards.judge import step_prompt
from prm.rewards.spec import apply_rewards, parse_spec

SEARCH_QA, SWE = "prm/search-qa-v0", "prm/swe-v0"
RULE_SIGNALS = {SEARCH_QA: ["info_gain"], SWE: ["lsp", "progress"]}
OFF_TOPIC = json.dumps({"tool": "search", "args": {"query": "weather forecast for tomorrow"}})
VERDICTS = {"good": "VERDICT: correct", "harmful": "VERDICT: irrecoverable"}
JUDGE_HISTORY = 2


class ModelStep(BaseModel):
    env_id: str
    scenario: str
    label: Literal["good", "harmful"]
    category: str
    step: int
    components: dict[str, float]


@dataclass
class LabelledEpisode:
    """One scenario's labelled steps and the episode they were played in (`ModelStep.step` indexes it)."""

    trajectory: Trajectory
    steps: list[ModelStep]

    def judge_prompt(self, step: ModelStep) -> str:
        history = [(s.action, str(s.observation)) for s in self.trajectory.steps[: step.step + 1]]
        return step_prompt(str(self.trajectory.header.initial_observation), history, JUDGE_HISTORY)


class ModelSignalScore(BaseModel):
    env_id: str
    signal: str
    auroc: float | None
    good: int
    harmful: int
    unscored: int


def search_qa_episode(scenario: str) -> LabelledEpisode:
    """Plays the labelled steps of one search-QA scenario under `info_gain`."""
    env = apply_rewards(gym.make(SEARCH_QA, scenario=scenario), ["info_gain"])
    try:
        env.reset(seed=0)
        oracle = env.unwrapped.oracle_actions()
        plan = [
            (oracle[0], "good", "oracle"),
            (oracle[0], "harmful", "repeat"),
            (OFF_TOPIC, "harmful", "off-topic"),
        ]
        plan += [(action, "good", "oracle") for action in oracle[1:]]
        steps = []
        for index, (action, label, category) in enumerate(plan):
            _, _, _, _, info = env.step(action)
            components = dict(info["reward_components"])
            steps.append(
                ModelStep(
                    env_id=SEARCH_QA,
                    scenario=scenario,
                    label=label,
                    category=category,
                    step=index,
                    components=components,
                )
            )
        return LabelledEpisode(episode_record(env, SEARCH_QA, scenario), steps)
    finally:
        env.close()


def swe_episode(scenario: str, sandbox: str = "auto") -> LabelledEpisode:
    """The labelled steps of `prm bench rewards` on one SWE scenario: good and verified harmful ones."""
    labelled, trajectory = labelled_repair_episode(SWE, scenario, sandbox)
    steps = [
        ModelStep(
            env_id=SWE,
            scenario=scenario,
            label=step.label,
            category=step.category,
            step=step.step,
            components=step.components,
        )
        for step in labelled
        if step.label in ("good", "harmful") and not step.infra_error
    ]
    return LabelledEpisode(trajectory, steps)


def _one_step(prompt: str, action: str) -> Trajectory:
    """A one-step trajectory (what the tiny fits read: a prompt and the action to write after it)."""
    header = TrajectoryHeader(
        env_id="bench", scenario_id="bench", prm_version="bench", initial_observation=prompt
    )
    return Trajectory(header=header, steps=[StepRecord(index=0, action=action, observation="", reward=0.0)])


def fit_tiny_judge(episodes: list[LabelledEpisode], out: Path, *, seconds: float = 30.0) -> Path:
    """A tiny model fitted to answer each step's judge prompt with its label's verdict (the rarer label's
    steps repeated so both labels weigh the same); saved to `out`."""
    from prm.agents.tiny import build_tiny_model, fit_on_trajectories

    pairs = [(episode, step) for episode in episodes for step in episode.steps]
    counts = {label: sum(step.label == label for _, step in pairs) for label in VERDICTS}
    repeat = {label: max(counts.values()) // max(count, 1) for label, count in counts.items()}
    examples = [
        _one_step(episode.judge_prompt(step), VERDICTS[step.label])
        for episode, step in pairs
        for _ in range(repeat[step.label])
    ]
    model, tokenizer = build_tiny_model(examples, hidden=64)
    return fit_on_trajectories(model, tokenizer, examples, steps=300, max_seconds=seconds).save(out)


def fit_tiny_policy(
    episodes: list[LabelledEpisode], out: Path, *, seconds: float = 30.0
) -> tuple[Path, Path]:
    """PRIME's pair for the implicit PRM: (policy, reference), the reference a tiny random-weight model and the
    policy the same model fitted on the good steps (each episode's good steps in order, as one trajectory)."""
    from prm.agents.tiny import build_tiny_model, fit_on_trajectories

    good = [
        episode.trajectory.model_copy(
            update={"steps": [episode.trajectory.steps[s.step] for s in episode.steps if s.label == "good"]}
        )
        for episode in episodes
    ]
    model, tokenizer = build_tiny_model(good, out / "ref", hidden=64)
    policy = fit_on_trajectories(model, tokenizer, good, steps=300, max_seconds=seconds).save(out / "policy")
    return policy, out / "ref"


def score_offline(episodes: list[LabelledEpisode], signals: dict[str, str]) -> None:
    """Adds each signal's value (name -> spec) to the labelled steps' components, computed from the recorded
    episodes' text (`offline_values`, as `prm rescore` does); an unscored step gets no component."""
    for name, text in signals.items():
        spec = parse_spec(text)
        for episode in episodes:
            values = spec.offline_values(episode.trajectory)
            for step in episode.steps:
                if values[step.step] is not None:
                    step.components[name] = values[step.step]


def score_signals(steps: list[ModelStep], env_id: str, names: list[str]) -> list[ModelSignalScore]:
    rows = []
    for name in names:
        scored = [step for step in steps if name in step.components]
        good = [step.components[name] for step in scored if step.label == "good"]
        harmful = [step.components[name] for step in scored if step.label == "harmful"]
        rows.append(
            ModelSignalScore(
                env_id=env_id,
                signal=name,
                auroc=auroc(good, harmful),
                good=len(good),
                harmful=len(harmful),
                unscored=len(steps) - len(scored),
            )
        )
    return rows


def run_model_reward_benchmark(
    search_qa: list[str],
    swe: list[str],
    work: Path,
    *,
    signals: dict[str, str] | None = None,
    judge_model: str | None = None,
    sandbox: str = "auto",
    fit_seconds: float = 30.0,
    progress: Console | None = None,
) -> list[ModelSignalScore]:
    """Plays the labelled episodes of both packs, fits the tiny judge and policy on the first half of each
    pack's scenarios, and scores every signal on the second half (see the module docstring). `judge_model`:
    a model of the OpenAI-compatible endpoint at `OPENAI_BASE_URL` judged beside the tiny one."""
    console = progress or Console(quiet=True)
    packs = {SEARCH_QA: search_qa, SWE: swe}
    if any(0 < len(ids) < 2 for ids in packs.values()) or not any(packs.values()):
        raise ValueError(
            "prm bench model-rewards needs at least 2 scenarios of a pack (half fit the tiny models)"
        )
    fit, test = [], {}
    for env_id, ids in packs.items():
        episodes = []
        for number, scenario in enumerate(ids, start=1):
            console.log(f"{env_id} [{number}/{len(ids)}] {Path(scenario).stem}: labelled steps")
            episodes.append(
                search_qa_episode(scenario) if env_id == SEARCH_QA else swe_episode(scenario, sandbox)
            )
        half = len(episodes) // 2
        fit += episodes[:half]
        test[env_id] = episodes[half:]
    console.log(f"fitting the tiny judge and the tiny policy on {len(fit)} episodes")
    judge = fit_tiny_judge(fit, work / "tiny-judge", seconds=fit_seconds)
    policy, ref = fit_tiny_policy(fit, work / "tiny-policy", seconds=fit_seconds)
    model_signals = {
        "judge (tiny)": f"judge:ternary:backend=hf,model={judge},history={JUDGE_HISTORY},cache=false",
        "implicit (tiny)": f"implicit:policy={policy},ref={ref},beta=1",
    }
    if judge_model:
        model_signals["judge (endpoint)"] = f"judge:ternary:model={judge_model},history={JUDGE_HISTORY}"
    model_signals |= signals or {}
    rows = []
    for env_id, episodes in test.items():
        if not episodes:
            continue
        console.log(f"{env_id}: scoring {len(model_signals)} model signals on {len(episodes)} episodes")
        score_offline(episodes, model_signals)
        steps = [step for episode in episodes for step in episode.steps]
        rows += score_signals(steps, env_id, [*RULE_SIGNALS[env_id], *model_signals])
    return rows


def print_model_report(rows: list[ModelSignalScore], console: Console) -> None:
    table = Table(
        "env",
        "signal",
        "AUROC harmful vs good",
        "good",
        "harmful",
        "unscored",
        title="rule-based and model-based signals",
    )
    for row in rows:
        value = "-" if row.auroc is None else f"{row.auroc:.3f}"
        table.add_row(row.env_id, row.signal, value, str(row.good), str(row.harmful), str(row.unscored))
    console.print(table)
