"""Batched rollouts: 4 envs with one generate call per step play the same episodes as 4 sequential runs."""

import json

import pytest

import prm
from prm.agents import TransformersAgent
from prm.agents.prompt import SYSTEM_PROMPT, Conversation
from prm.rollout import rollout

ENV = "prm/search-qa-v0"


def play(model_path, scenarios, *, num_envs, batch, out=None):
    agent = TransformersAgent(model_path, do_sample=False)
    return rollout(
        ENV,
        agent,
        scenarios=scenarios,
        episodes=4,
        num_envs=num_envs,
        batch=batch,
        seed=7,
        out=out,
        env_kwargs={"max_steps": 3},
        show_progress=False,
    )


def test_batched_rollout_equals_sequential_runs(tiny_models, tmp_path):
    scenarios = tiny_models.scenarios[:4]
    batched = play(tiny_models.fitted, scenarios, num_envs=4, batch=True, out=tmp_path)
    sequential = play(tiny_models.fitted, scenarios, num_envs=1, batch=False)
    assert [t.actions for t in batched] == [t.actions for t in sequential]
    assert [t.rewards for t in batched] == [t.rewards for t in sequential]
    assert [t.header.seed for t in batched] == [7, 8, 9, 10]
    for ours, theirs in zip(batched, sequential, strict=True):  # the records a trainer reads match too
        for step, alone in zip(ours.steps, theirs.steps, strict=True):
            assert step.policy.prompt_ids == alone.policy.prompt_ids  # left padding is not in the record
            assert step.policy.completion_ids == alone.policy.completion_ids
            assert step.policy.logprobs == pytest.approx(alone.policy.logprobs, abs=1e-4)
    assert any(
        step.info["error"] is None for t in batched for step in t.steps
    )  # the fitted model makes calls
    for trajectory in batched:
        for step in trajectory.steps:
            policy = step.policy
            assert len(policy.logprobs) == len(policy.completion_ids) > 0
            assert all(lp <= 0.0 for lp in policy.logprobs)
    written = sorted(tmp_path.glob("*.jsonl"))
    assert len(written) == 4 and prm.load_trajectory(written[0]).steps[0].policy.prompt_ids


def test_random_model_drives_the_invalid_action_path(tiny_models):
    (trajectory,) = rollout(
        ENV,
        TransformersAgent(tiny_models.random, do_sample=True, seed=3),
        scenarios=tiny_models.scenarios[0],
        env_kwargs={"max_steps": 2},
        show_progress=False,
    )
    assert trajectory.outcome.num_steps == 2 and not trajectory.outcome.infra_error
    assert all(step.reward_components.get("invalid_action") == 1.0 for step in trajectory.steps)
    assert "Invalid action" in trajectory.steps[0].observation


def test_prompt_keeps_task_and_latest_turns_and_marks_the_cut():
    chat = Conversation("TASK " * 50)
    for turn in range(30):
        chat.add_turn(json.dumps({"tool": "search", "args": {"query": f"q{turn}"}}), f"result {turn} " * 40)
    messages = chat.messages(budget=600)
    assert messages[0]["content"] == SYSTEM_PROMPT and messages[1]["content"] == "TASK " * 50
    assert "earlier step(s) cut" in messages[2]["content"]
    assert messages[-1]["content"] == "result 29 " * 40
    huge = Conversation("TASK " * 50)
    huge.add_turn("{}", "x" * 100_000)
    cut = huge.messages(budget=400)
    assert "characters cut to fit the context" in cut[-1]["content"] and len(cut[-1]["content"]) < 2000


def test_prm_run_with_a_local_model_and_several_envs(tiny_models, tmp_path):
    from typer.testing import CliRunner

    from prm.cli import app

    args = ["run", ENV, "--scenario", tiny_models.scenarios[0], "--agent", f"hf:{tiny_models.fitted}"]
    args += ["--episodes", "2", "--num-envs", "2", "--out", str(tmp_path), "--kw", "max_steps=2"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "success rate" in result.output and "infra errors" in result.output
    written = sorted(tmp_path.glob("*.jsonl"))
    assert len(written) == 2 and all(prm.load_trajectory(f).steps[0].policy.completion_ids for f in written)


def test_prm_run_with_an_unknown_agent_is_a_one_line_error():
    from typer.testing import CliRunner

    from prm.cli import app

    result = CliRunner().invoke(app, ["run", ENV, "--agent", "gpt:4"], env={"COLUMNS": "200"})
    assert result.exit_code != 0 and "unknown agent 'gpt:4'" in result.output
