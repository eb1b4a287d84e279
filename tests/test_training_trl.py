"""prm envs in TRL's GRPOTrainer through `rollout_func`: two updates on CPU, finite loss, changed weights."""

import math

import torch
import trl
from transformers import AutoModelForCausalLM, AutoTokenizer

from prm.integrations.trl import episode_return, prm_rollout_func, scenario_dataset


def test_grpo_trainer_runs_two_updates_on_prm_episodes(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("TRL_EXPERIMENTAL_SILENCE", "1")
    model = AutoModelForCausalLM.from_pretrained(tiny_models.fitted)
    tokenizer = AutoTokenizer.from_pretrained(tiny_models.fitted)
    tokenizer.padding_side = "left"
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    args = trl.GRPOConfig(
        output_dir=str(tmp_path),
        per_device_train_batch_size=4,
        num_generations=4,
        max_steps=2,
        learning_rate=1e-2,
        use_cpu=True,
        report_to=[],
        logging_steps=1,
        save_strategy="no",
        max_completion_length=384,
    )
    trainer = trl.GRPOTrainer(
        model=model,
        processing_class=tokenizer,
        args=args,
        train_dataset=scenario_dataset(tiny_models.scenarios[:2]),
        reward_funcs=episode_return,
        rollout_func=prm_rollout_func(
            "prm/search-qa-v0",
            num_envs=4,
            env_kwargs={
                "max_steps": 3,
                "reward_weights": {"invalid_action": -0.5, "evidence_recall_gain": 1.0},
            },
            temperature=0.5,
            max_new_tokens=40,
            context_tokens=384,
        ),
    )
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)
    assert any(not torch.equal(before[name], p) for name, p in model.named_parameters())
