"""prm envs in TRL's `GRPOTrainer`, through its `rollout_func` hook (TRL >= 0.24; tested with 1.16 on CPU).

The dataset's `prompt` column holds scenario ids (`scenario_dataset`). For each batch, `rollout_func` plays
one episode per prompt (GRPO's repeats included) with the trainer's current model (`TransformersAgent`,
sampling), in `num_envs` concurrent envs, and returns each episode as one multi-turn sequence
(`prm.export.episode_row`): the first prompt's ids, every later token as the completion, the recorded
log-probabilities, and `env_mask` (1 on model tokens, 0 on environment tokens, so the loss skips what the env
wrote). `episode_return` (the env's summed reward; None for an episode lost to the infrastructure, which
GRPO then leaves out) is passed to the reward function of the same name.

>>> from trl import GRPOConfig, GRPOTrainer  # doctest: +SKIP
>>> trainer = GRPOTrainer(model=model, processing_class=tokenizer, args=GRPOConfig(...),  # doctest: +SKIP
...     train_dataset=scenario_dataset(ids), reward_funcs=episode_return,
...     rollout_func=prm_rollout_func("prm/search-qa-v0", env_kwargs={"max_steps": 4}))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prm.agents.transformers_agent import TransformersAgent
from prm.export import episode_row
from prm.rollout import rollout


def scenario_dataset(scenario_ids: Sequence[str]) -> Any:
    """A `datasets.Dataset` whose `prompt` column is the scenario ids (what `prm_rollout_func` plays)."""
    import datasets

    return datasets.Dataset.from_dict({"prompt": list(scenario_ids)})


def episode_return(prompts: list, completions: list, episode_return: list, **_: Any) -> list[float | None]:
    """GRPO reward function: each episode's return from the env (None when lost to the infrastructure)."""
    return list(episode_return)


def prm_rollout_func(
    env_id: str,
    *,
    num_envs: int = 4,
    env_kwargs: dict[str, Any] | None = None,
    rewards: Sequence[str] = (),
    **agent_options: Any,
) -> Callable[[list, Any], dict[str, list]]:
    """A `rollout_func` for `GRPOTrainer` that plays `env_id` episodes (see the module docstring)."""
    calls = {"count": 0}

    def rollout_func(prompts: list, trainer: Any) -> dict[str, list]:
        agent = TransformersAgent(
            trainer.model, tokenizer=trainer.processing_class, do_sample=True, seed=None, **agent_options
        )
        seed = calls["count"] * len(prompts)
        calls["count"] += 1
        trajectories = rollout(
            env_id,
            agent,
            scenarios=[str(prompt) for prompt in prompts],
            episodes=len(prompts),
            num_envs=num_envs,
            rewards=rewards,
            seed=seed,
            env_kwargs=env_kwargs,
            show_progress=False,
        )
        rows = [episode_row(f"{seed + i}", trajectory) for i, trajectory in enumerate(trajectories)]
        return {
            "prompt_ids": [row["prompt_ids"] for row in rows],
            "completion_ids": [row["completion_ids"] for row in rows],
            "logprobs": [row["logprobs"] for row in rows],
            "env_mask": [row["loss_mask"] for row in rows],
            "episode_return": [None if row["infra_error"] else row["return"] for row in rows],
        }

    return rollout_func
