"""The policy-gradient example trains the tiny model for two updates on CPU: finite losses, changed weights."""

import importlib.util
import math
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

EXAMPLE = Path(__file__).parents[1] / "examples" / "reinforce_search_qa.py"


def load_example():
    spec = importlib.util.spec_from_file_location("reinforce_search_qa", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reinforce_example_runs_two_updates_and_changes_weights(tiny_models, tmp_path):
    example = load_example()
    losses = example.train(tiny_models.fitted, updates=2, episodes=4, max_steps=2, out=tmp_path / "trained")
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    before = AutoModelForCausalLM.from_pretrained(tiny_models.fitted).state_dict()
    after = AutoModelForCausalLM.from_pretrained(tmp_path / "trained").state_dict()
    changed = [name for name in before if not torch.equal(before[name], after[name])]
    assert changed, "no weight moved after two updates"


def test_advantages_use_step_returns_and_skip_infra_failures():
    from prm.models import OutcomeRecord, PolicyCall, StepRecord, Trajectory, TrajectoryHeader

    header = TrajectoryHeader(env_id="prm/x", scenario_id="s", prm_version="0")
    policy = PolicyCall(messages=[], completion="a", prompt_ids=[1], completion_ids=[2], logprobs=[-0.1])
    steps = [
        StepRecord(index=i, action="a", observation="o", reward=r, policy=policy)
        for i, r in enumerate([0.5, 1.0])
    ]
    scored = Trajectory(header=header, steps=steps, outcome=OutcomeRecord(outcome={"reward": 1.0}))
    lost = Trajectory(header=header, steps=steps, outcome=OutcomeRecord(infra_error=True))
    advantages = [adv for *_, adv in load_example().step_advantages([scored, lost])]
    assert advantages == [1.5 - 1.25, 1.0 - 1.25]
