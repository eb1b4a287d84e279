"""Re-scoring a recorded trajectory with other reward specs (`prm rescore`).

Offline where the stored data suffice: `lsp` from the analysis bundles in each step's `info["lsp"]` (any
weights); `progress`, `shaping` and `info_gain` from the stored potentials (`info["<name>_potential"]`) when
the trajectory was recorded with the same estimator (other weight, gamma or redundancy is fine); `clip`,
`gated` and `minform` always (they act on per-step process rewards and the outcome). Otherwise the episode
is replayed: the env is re-created from the header, wrapped with the signals, and the actions replayed.

A signal with no value at a step (a judge reply that could not be parsed, an infrastructure failure of the
signal) gets no component there, as online: it adds nothing to the step's process reward, so clip, gated and
minform act on the sum of the signals that were scored; `info["reward_flags"][name]` keeps the online reason
("unparsable", "unreachable") or says "unscored", so a trainer can mask the step instead of reading a zero.

>>> from prm import load_trajectory
>>> rescored = rescore(load_trajectory("runs/episode.jsonl"), ["lsp:w_warn=0", "gated:threshold=1"])  # doctest: +SKIP
>>> rescored.rewards  # doctest: +SKIP
[0.0, 0.0, 2.0]
"""

from __future__ import annotations

from typing import Any

from prm.models import OutcomeRecord, StepRecord, Trajectory
from prm.rewards.clip import clip_cumulative
from prm.rewards.gated import gate_rewards
from prm.rewards.lsp import lsp_reward
from prm.rewards.minform import min_form, warn_if_deltas
from prm.rewards.shaping import shaping_term
from prm.rewards.spec import (
    ClipSpec,
    GatedSpec,
    ImplicitSpec,
    InfoGainSpec,
    JudgeSpec,
    LSPSpec,
    MinFormSpec,
    ProgressSpec,
    RewardSpec,
    parse_spec,
    parse_specs,
)

AGGREGATE_KEYS = ("gate", "step_rewards", "min_form_returns", "min_form_rewards")
SIGNAL_SPECS = (LSPSpec, ProgressSpec, InfoGainSpec, JudgeSpec, ImplicitSpec)  # ShapingSpec is a ProgressSpec


def _identity(spec: RewardSpec) -> dict[str, Any]:
    """What a signal's stored values depend on (not its weight, gamma or redundancy penalty)."""
    return {
        key: value
        for key, value in spec.model_dump().items()
        if key not in ("weight", "gamma", "redundancy", "w_err", "w_warn", "w_unsafe", "timeout")
    }


def offline_value(spec: RewardSpec, step: StepRecord) -> float | None:
    """The signal's value at a recorded step (None: not scored there, e.g. an infrastructure failure)."""
    info = step.info
    if isinstance(spec, LSPSpec):
        bundle = info["lsp"]
        if "infra_error" in bundle:
            return None
        return lsp_reward(bundle, w_err=spec.w_err, w_warn=spec.w_warn, w_unsafe=spec.w_unsafe)
    potential = info.get(f"{spec.name}_potential")
    if potential is None:
        return None
    value = shaping_term(potential["before"], potential["after"], getattr(spec, "gamma", 1.0))
    if isinstance(spec, InfoGainSpec):
        value = round(value - spec.redundancy * step.reward_components.get("redundancy", 0.0), 12)
    return value


def can_rescore_offline(trajectory: Trajectory, spec: RewardSpec) -> bool:
    if hasattr(spec, "offline_values"):  # model signals: computed from the recorded text
        return True
    if isinstance(spec, LSPSpec):
        return all("lsp" in step.info for step in trajectory.steps)
    recorded = [parse_spec(text) for text in trajectory.header.reward_config]
    return any(type(old) is type(spec) and _identity(old) == _identity(spec) for old in recorded)


def replay(trajectory: Trajectory, signals: list[RewardSpec]) -> Trajectory:
    """Re-runs the trajectory's actions in a fresh env (from its header) wrapped with `signals`."""
    import gymnasium as gym

    from prm.agents import ReplayAgent
    from prm.rollout import run_episode

    header = trajectory.header
    kwargs = dict(header.env_kwargs)
    if header.scenario_id:
        kwargs["scenario"] = header.scenario_id
    env = gym.make(header.env_id, rewards=[str(spec) for spec in signals], **kwargs)
    try:
        return run_episode(
            env,
            ReplayAgent(trajectory),
            seed=header.seed,
            scenario_id=header.scenario_id,
            env_kwargs=header.env_kwargs,
            reward_config=[str(spec) for spec in signals],
        )
    finally:
        env.close()


def rescore(trajectory: Trajectory, specs: list[str | RewardSpec]) -> Trajectory:
    """The trajectory with rewards and components recomputed for `specs` (offline where possible)."""
    specs = parse_specs(specs)
    signals = [spec for spec in specs if isinstance(spec, SIGNAL_SPECS)]
    if not all(can_rescore_offline(trajectory, spec) for spec in signals):
        trajectory = replay(trajectory, signals)
    old_signals = {parse_spec(text).name for text in trajectory.header.reward_config}
    from_text = {spec: spec.offline_values(trajectory) for spec in signals if hasattr(spec, "offline_values")}
    steps, process = [], []
    for t, step in enumerate(trajectory.steps):
        info = {key: value for key, value in step.info.items() if key not in AGGREGATE_KEYS}
        components = {name: v for name, v in step.reward_components.items() if name not in old_signals}
        old_flags = info.pop("reward_flags", None) or {}
        flags = {name: why for name, why in old_flags.items() if name not in old_signals}
        total = 0.0
        for spec in signals:
            value = from_text[spec][t] if spec in from_text else offline_value(spec, step)
            if value is None:
                flags[spec.name] = old_flags.get(spec.name, "unscored")
                continue
            components[spec.name] = value
            total += spec.weight * value
        if flags:
            info["reward_flags"] = flags
        env_reward = float(info.get("env_reward", step.reward))
        info.update(env_reward=env_reward, process_reward=total)
        steps.append(step.model_copy(update={"reward_components": components, "info": info}))
        process.append(total)
    process = aggregate(steps, process, specs, trajectory)
    for step, p in zip(steps, process, strict=True):
        step.info["process_reward"] = p
        step.reward = step.info["env_reward"] + p
    header = trajectory.header.model_copy(update={"reward_config": [str(spec) for spec in specs]})
    outcome = trajectory.outcome
    if outcome is not None:
        outcome = OutcomeRecord(
            **{**outcome.model_dump(), "total_reward": sum(step.reward for step in steps)}
        )
    return Trajectory(header=header, steps=steps, outcome=outcome)


def aggregate(
    steps: list[StepRecord], process: list[float], specs: list[RewardSpec], trajectory: Trajectory
) -> list[float]:
    """Applies clip, gated and minform (in that order) to the per-step process rewards; writes their info."""
    if not steps:
        return process
    last = steps[-1].info
    for spec in sorted(specs, key=lambda spec: spec.rank):
        if isinstance(spec, ClipSpec):
            process = clip_cumulative(process, -spec.max if spec.min is None else spec.min, spec.max)
        elif isinstance(spec, GatedSpec):
            outcome = (trajectory.outcome.outcome or {}).get("reward") if trajectory.outcome else None
            released = gate_rewards(process, outcome, spec.threshold)
            is_open = outcome is not None and outcome >= spec.threshold
            last["step_rewards"] = released
            last["gate"] = {
                "threshold": spec.threshold,
                "outcome": outcome,
                "open": is_open,
                "withheld": sum(process),
                "released": sum(released),
            }
            process = [0.0] * (len(process) - 1) + [sum(released)]
        elif isinstance(spec, MinFormSpec):
            warn_if_deltas([s.name for s in specs if isinstance(s, SIGNAL_SPECS) and not s.step_score])
            last["min_form_returns"], last["min_form_rewards"] = min_form(last.get("step_rewards", process))
    return process
