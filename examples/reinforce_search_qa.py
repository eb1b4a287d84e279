"""REINFORCE with per-step advantages from process rewards: train a small transformers model on
prm/search-qa-v0 with the log-probabilities the rollout recorded.

Each update: play a batch of episodes with the current model (`prm.rollout.rollout`, `TransformersAgent`);
the reward of step t is the env's process reward r_t (evidence recall gain, a penalty for invalid actions,
the outcome at the end); its return-to-go G_t = sum_{k>=t} gamma^(k-t) r_k; the advantage
A_t = G_t - mean(G) over the batch's steps (Williams 1992, with a batch-mean baseline). The loss is
-mean_t A_t * log pi(a_t | prompt_t), with log pi(a_t | prompt_t) the sum over the completion's tokens,
recomputed with gradients from the recorded prompt and completion token ids.

    python examples/reinforce_search_qa.py MODEL_DIR --updates 20 --episodes 8 --out trained/

MODEL_DIR is any causal LM with a chat template (`prm.agents.tiny` builds one from scratch).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

import prm  # noqa: F401  (registers the envs)
from prm.agents import TransformersAgent
from prm.models import Trajectory
from prm.rollout import rollout

PROCESS_WEIGHTS = {"outcome": 1.0, "evidence_recall_gain": 0.5, "invalid_action": -0.1, "redundancy": -0.05}


def step_advantages(
    trajectories: list[Trajectory], gamma: float = 1.0
) -> list[tuple[list[int], list[int], float]]:
    """(prompt ids, completion ids, advantage) for every model step; episodes lost to the infrastructure
    are left out (their rewards say nothing about the policy)."""
    steps = []
    for trajectory in trajectories:
        if trajectory.outcome is None or trajectory.outcome.infra_error:
            continue
        to_go = 0.0
        returns = []
        for step in reversed(trajectory.steps):
            to_go = step.reward + gamma * to_go
            returns.append(to_go)
        for step, g in zip(trajectory.steps, reversed(returns), strict=True):
            if step.policy is not None and step.policy.completion_ids:
                steps.append((step.policy.prompt_ids, step.policy.completion_ids, g))
    baseline = sum(g for *_, g in steps) / max(len(steps), 1)
    return [(prompt, completion, g - baseline) for prompt, completion, g in steps]


def completion_logprob(model, prompt_ids: list[int], completion_ids: list[int]) -> torch.Tensor:
    """log pi(completion | prompt): the sum of the completion tokens' log-probabilities, with gradients."""
    ids = torch.tensor([prompt_ids + completion_ids])
    logits = model(input_ids=ids).logits[0, len(prompt_ids) - 1 : -1]
    return logits.log_softmax(-1).gather(-1, torch.tensor(completion_ids).unsqueeze(-1)).sum()


def reinforce_update(model, optimizer, trajectories: list[Trajectory], gamma: float = 1.0) -> float:
    steps = step_advantages(trajectories, gamma)
    if not steps:
        return float("nan")
    model.train()
    loss = -torch.stack([adv * completion_logprob(model, p, c) for p, c, adv in steps]).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def train(
    model_dir: str | Path,
    *,
    updates: int = 2,
    episodes: int = 4,
    max_steps: int = 3,
    learning_rate: float = 1e-3,
    seed: int = 0,
    out: str | Path | None = None,
) -> list[float]:
    """Runs `updates` REINFORCE updates; returns the losses (and saves the model to `out`)."""
    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate)
    agent = TransformersAgent(model, tokenizer=tokenizer, do_sample=True, temperature=1.0, seed=seed)
    losses = []
    for update in range(updates):
        trajectories = rollout(
            "prm/search-qa-v0",
            agent,
            episodes=episodes,
            num_envs=episodes,
            seed=seed + update * episodes,
            env_kwargs={"max_steps": max_steps, "reward_weights": PROCESS_WEIGHTS},
            show_progress=False,
        )
        losses.append(reinforce_update(model, optimizer, trajectories))
        mean_return = sum(t.outcome.total_reward for t in trajectories) / len(trajectories)
        print(f"update {update}: loss={losses[-1]:+.4f} mean return={mean_return:+.3f}")
        if not math.isfinite(losses[-1]):
            raise RuntimeError(f"update {update}: loss is {losses[-1]}")
    if out is not None:
        model.save_pretrained(out)
        tokenizer.save_pretrained(out)
    return losses


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model_dir")
    parser.add_argument("--updates", type=int, default=20)
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--max-steps", type=int, default=6)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    train(
        args.model_dir, updates=args.updates, episodes=args.episodes, max_steps=args.max_steps, out=args.out
    )
