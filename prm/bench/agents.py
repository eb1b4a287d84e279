"""`prm bench agents`: rollout throughput with a tiny transformers model, batched vs one call per env.

Builds a tiny random-weight model (`prm.agents.tiny`, tokenizer trained on search-QA oracle episodes), then
runs the same episodes of `prm/search-qa-v0` (seeds 0..N-1, `max_steps` each) with `rollout` at num_envs 1,
at num_envs 4 with one `generate` per step for all envs (batched), and at num_envs 4 with one call per env.
Reports episodes per minute, the ratio to num_envs 1 measured in the same run, and the share of wall time
spent in envs vs in the policy.

>>> result = run_agents_benchmark(episodes=4, max_steps=2)  # doctest: +SKIP
>>> result.ratio("num_envs=4 batched")  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field

import prm  # noqa: F401  (registers the envs)
from prm.agents import OracleAgent, TransformersAgent
from prm.agents.tiny import build_tiny_model
from prm.rollout import RolloutEngine, RolloutTimings

ENV = "prm/search-qa-v0"
CONFIGS = {
    "num_envs=1": (1, True),
    "num_envs=4 batched": (4, True),
    "num_envs=4 one call per env": (4, False),
}


@dataclass
class AgentsBenchResult:
    episodes: int
    timings: dict[str, RolloutTimings] = field(default_factory=dict)

    def episodes_per_minute(self, name: str) -> float:
        return 60.0 * self.episodes / self.timings[name].wall_s

    def ratio(self, name: str) -> float:
        """Throughput of `name` over num_envs=1 (same episodes, same run)."""
        return self.episodes_per_minute(name) / self.episodes_per_minute("num_envs=1")

    def env_share(self, name: str) -> float:
        timing = self.timings[name]
        return timing.env_s / (timing.env_s + timing.policy_s)


def run_agents_benchmark(episodes: int = 8, max_steps: int = 3) -> AgentsBenchResult:
    oracle = RolloutEngine(ENV, OracleAgent(), episodes=8).run()
    with tempfile.TemporaryDirectory() as folder:
        build_tiny_model(oracle, folder)
        result = AgentsBenchResult(episodes=episodes)
        for name, (num_envs, batch) in CONFIGS.items():
            agent = TransformersAgent(folder, do_sample=False)
            engine = RolloutEngine(
                ENV,
                agent,
                episodes=episodes,
                num_envs=num_envs,
                batch=batch,
                env_kwargs={"max_steps": max_steps},
            )
            engine.run()
            result.timings[name] = engine.timings
    return result
