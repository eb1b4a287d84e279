"""`prm export`: recorded trajectories to Parquet files or a Hugging Face dataset, as trainers take them.

Two tables:
- **steps**, one row per step: `episode_id`, `step`, `prompt_messages` (JSON), `action`, `observation`,
  `reward`, `reward_components` (JSON), `reward_flags` (JSON: signal -> why it has no component at this
  step, e.g. a judge's "unparsable"; mask such steps rather than read a zero), `done`, `infra_error`, and
  when a local model acted:
  `prompt_ids`, `completion_ids`, `logprobs`;
- **episodes**, one row per episode with the multi-turn sequence: `prompt_ids` (the first prompt),
  `completion_ids` (every later token: the model's completions and the environment's turns in between),
  `loss_mask` (1 on model tokens, 0 on environment tokens), `logprobs` (0.0 on environment tokens),
  `token_rewards` (each step's reward at the last token of its completion, 0 elsewhere), `step_rewards`,
  `return`, `outcome_reward` (None when the episode was lost to the infrastructure), `infra_error`, and
  `context_cut` (a later prompt was not the earlier prompt plus its completion, e.g. history was cut to the
  token budget: the environment tokens are then what the later prompt adds after the shared prefix);
  for tree rollouts also `tree_episode_id`, `parent_id` and `branch_step` (None otherwise);
- **groups** (tree rollouts only), one row per branch point: `parent_id`, `branch_step`, `members` (the
  episode ids that share the first `branch_step` steps: the parent and its branches from there),
  `outcome_rewards`, and `mc_value`, their mean outcome reward with infrastructure failures left out: a Monte
  Carlo estimate of V(s_t) at the branch point (the `progress:mc` label, PAV), read off the siblings instead
  of extra rollouts. Siblings of a group are what Tree-GRPO compares.

>>> export_trajectories(["runs/"], out="dataset", fmt="parquet")  # doctest: +SKIP
>>> import datasets
>>> datasets.load_dataset("parquet", data_files="dataset/episodes.parquet")["train"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from prm.errors import TrajectoryError
from prm.models import Trajectory
from prm.trajectory import load_trajectory


def trajectory_files(paths: Iterable[str | Path]) -> list[Path]:
    """The JSONL files named by `paths` (files, or folders searched recursively), sorted."""
    files: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            files += sorted(path.rglob("*.jsonl"))
        elif path.is_file():
            files.append(path)
        else:
            raise TrajectoryError(f"{path}: no such trajectory file or folder")
    if not files:
        raise TrajectoryError(f"no trajectory files under {', '.join(map(str, paths))}")
    return files


def step_rows(episode_id: str, trajectory: Trajectory) -> list[dict[str, Any]]:
    rows = []
    for step in trajectory.steps:
        policy = step.policy
        rows.append(
            {
                "episode_id": episode_id,
                "step": step.index,
                "prompt_messages": json.dumps(policy.messages if policy else None),
                "action": step.action,
                "observation": step.observation
                if isinstance(step.observation, str)
                else json.dumps(step.observation),
                "reward": step.reward,
                "reward_components": json.dumps(step.reward_components),
                "reward_flags": json.dumps(step.info.get("reward_flags") or {}),
                "done": step.terminated or step.truncated,
                "infra_error": bool(step.info.get("infra_error")),
                "prompt_ids": policy.prompt_ids if policy else None,
                "completion_ids": policy.completion_ids if policy else None,
                "logprobs": policy.logprobs if policy else None,
            }
        )
    return rows


def episode_row(episode_id: str, trajectory: Trajectory) -> dict[str, Any]:
    """The whole episode as one token sequence with a loss mask (see the module docstring)."""
    prompt_ids: list[int] = []
    completion: list[int] = []
    mask: list[int] = []
    logprobs: list[float] = []
    token_rewards: list[float] = []
    context_cut = False
    seen: list[int] = []  # the tokens so far: first prompt + everything after it
    steps = [step for step in trajectory.steps if step.policy and step.policy.completion_ids is not None]
    for position, step in enumerate(steps):
        policy = step.policy
        if position == 0:
            prompt_ids = list(policy.prompt_ids or [])
            seen = list(prompt_ids)
        else:
            shared = 0
            for a, b in zip(seen, policy.prompt_ids or [], strict=False):
                if a != b:
                    break
                shared += 1
            context_cut |= shared < len(seen)
            environment = (policy.prompt_ids or [])[shared:]
            completion += environment
            mask += [0] * len(environment)
            logprobs += [0.0] * len(environment)
            token_rewards += [0.0] * len(environment)
            seen = seen[:shared] + environment
        ids = list(policy.completion_ids)
        completion += ids
        mask += [1] * len(ids)
        logprobs += list(policy.logprobs or [0.0] * len(ids))
        token_rewards += [0.0] * (len(ids) - 1) + [step.reward] if ids else []
        seen += ids
    outcome = trajectory.outcome
    return {
        "episode_id": episode_id,
        "env_id": trajectory.header.env_id,
        "scenario_id": trajectory.header.scenario_id,
        "seed": trajectory.header.seed,
        "prompt_ids": prompt_ids,
        "completion_ids": completion,
        "loss_mask": mask,
        "logprobs": logprobs,
        "token_rewards": token_rewards,
        "step_rewards": trajectory.rewards,
        "return": sum(trajectory.rewards),
        "outcome_reward": outcome_reward(trajectory),
        "infra_error": bool(outcome is None or outcome.infra_error),
        "context_cut": context_cut,
        "tree_episode_id": trajectory.header.episode_id,
        "parent_id": trajectory.header.parent_id,
        "branch_step": trajectory.header.branch_step,
    }


def outcome_reward(trajectory: Trajectory) -> float | None:
    """The episode's outcome reward, or None when it was lost to the infrastructure (or cut off)."""
    outcome = trajectory.outcome
    if outcome is None or outcome.infra_error:
        return None
    return (outcome.outcome or {}).get("reward")


def sibling_groups(episodes: Iterable[tuple[str, Trajectory]]) -> list[dict[str, Any]]:
    """The branch points of tree rollouts among `(episode id, trajectory)` pairs, as `groups` rows (see the
    module docstring).

    >>> sibling_groups([])
    []
    """
    by_tree_id = {t.header.episode_id: (name, t) for name, t in episodes if t.header.episode_id}
    groups: dict[tuple[str, int], list[tuple[str, Trajectory]]] = {}
    for name, trajectory in by_tree_id.values():
        header = trajectory.header
        if header.parent_id is None or header.parent_id not in by_tree_id:
            continue
        key = (header.parent_id, header.branch_step)
        groups.setdefault(key, [by_tree_id[header.parent_id]]).append((name, trajectory))
    rows = []
    for (parent_id, branch_step), members in sorted(groups.items()):
        rewards = [outcome_reward(t) for _, t in members]
        known = [r for r in rewards if r is not None]
        rows.append(
            {
                "parent_id": parent_id,
                "branch_step": branch_step,
                "members": [name for name, _ in members],
                "outcome_rewards": rewards,
                "mc_value": sum(known) / len(known) if known else None,
            }
        )
    return rows


def export_trajectories(
    paths: Iterable[str | Path], *, out: str | Path, fmt: Literal["parquet", "hf"] = "parquet"
) -> dict[str, Path]:
    """Writes `steps` and `episodes` tables (and `groups` for tree rollouts) for the trajectories under
    `paths`: `OUT/steps.parquet`, `OUT/episodes.parquet`, ..., or a `datasets.DatasetDict` saved to `OUT` (`fmt="hf"`). Returns what it wrote."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    loaded = [(file.stem, load_trajectory(file)) for file in trajectory_files(paths)]
    steps = [row for name, trajectory in loaded for row in step_rows(name, trajectory)]
    episodes = [episode_row(name, trajectory) for name, trajectory in loaded]
    tables = {"steps": pa.Table.from_pylist(steps), "episodes": pa.Table.from_pylist(episodes)}
    groups = sibling_groups(loaded)
    if groups:
        tables["groups"] = pa.Table.from_pylist(groups)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "parquet":
        written = {}
        for name, table in tables.items():
            pq.write_table(table, out / f"{name}.parquet")
            written[name] = out / f"{name}.parquet"
        return written
    if fmt == "hf":
        import datasets

        datasets.DatasetDict({name: datasets.Dataset(table) for name, table in tables.items()}).save_to_disk(
            out
        )
        return {"dataset": out}
    raise ValueError(f"format must be parquet or hf, got {fmt!r}")
