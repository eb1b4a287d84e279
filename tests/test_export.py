"""`prm export`: per-step and per-episode rows that `datasets.load_dataset("parquet", ...)` reads back."""

import json

import datasets
from typer.testing import CliRunner

import prm
import prm.export
from prm.agents import TransformersAgent
from prm.cli import app
from prm.rollout import rollout


def test_export_rows_carry_tokens_masks_and_rewards(tiny_models, tmp_path):
    runs = tmp_path / "runs"
    trajectories = rollout(
        "prm/search-qa-v0",
        TransformersAgent(tiny_models.fitted, do_sample=False),
        scenarios=tiny_models.scenarios[:2],
        episodes=2,
        num_envs=2,
        out=runs,
        env_kwargs={"max_steps": 3, "reward_weights": {"invalid_action": -0.1}},
        show_progress=False,
    )
    result = CliRunner().invoke(app, ["export", str(runs), "--out", str(tmp_path / "pq")])
    assert result.exit_code == 0, result.output
    episodes = datasets.load_dataset("parquet", data_files=str(tmp_path / "pq" / "episodes.parquet"))["train"]
    steps = datasets.load_dataset("parquet", data_files=str(tmp_path / "pq" / "steps.parquet"))["train"]
    assert len(episodes) == 2 and len(steps) == sum(len(t.steps) for t in trajectories)
    for row, trajectory in zip(episodes, trajectories, strict=True):
        policies = [step.policy for step in trajectory.steps]
        assert row["prompt_ids"] == policies[0].prompt_ids
        model_tokens = [i for i, m in zip(row["completion_ids"], row["loss_mask"], strict=True) if m == 1]
        assert model_tokens == [t for p in policies for t in p.completion_ids]
        assert len(row["logprobs"]) == len(row["completion_ids"]) == len(row["token_rewards"])
        assert sum(row["token_rewards"]) == sum(trajectory.rewards) == row["return"]
        assert row["loss_mask"].count(0) > 0 or len(policies) == 1  # environment turns are masked out
        assert row["outcome_reward"] == trajectory.outcome.outcome["reward"]
    first = steps[0]
    assert json.loads(first["prompt_messages"])[0]["role"] == "system"
    assert first["logprobs"] == trajectories[0].steps[0].policy.logprobs
    assert json.loads(first["reward_components"]) == trajectories[0].steps[0].reward_components

    prm.export.export_trajectories([runs], out=tmp_path / "hf", fmt="hf")
    saved = datasets.load_from_disk(str(tmp_path / "hf"))
    assert set(saved) == {"steps", "episodes"} and len(saved["episodes"]) == 2


def test_export_of_a_missing_folder_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(
        app, ["export", str(tmp_path / "nope"), "--out", str(tmp_path / "x")], env={"COLUMNS": "300"}
    )
    assert result.exit_code != 0 and "no such trajectory file or folder" in result.output
