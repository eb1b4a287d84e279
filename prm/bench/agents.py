"""`prm bench agents`: rollout throughput with a tiny transformers model, batched vs one call per env.

Builds a tiny random-weight model (`prm.agents.tiny`, tokenizer trained on search-QA oracle episodes), plays
one short warm-up episode (first-call costs: torch's kernels, the BM25 index), then runs the same episodes of
`prm/search-qa-v0` (seeds 0..N-1, `max_steps` each) with `rollout` at num_envs 1, at num_envs 4 with one
`generate` per step for all envs (batched: left-padded prompts with an attention mask), and at num_envs 4
with one call per env. The configurations take turns for `rounds` rounds (each round in a rotated order, so
a change in the machine's load hits each alike) and each keeps its fastest round. Reports episodes per
minute, the ratio to num_envs 1 measured in the same run, and the share of wall time spent in envs vs in the
policy.

torch runs with `torch_threads` intra-op threads (default 1) for the run and is put back after. On a CPU
shared with other jobs this matters more than batching: a matrix product split over two threads waits for the
slower one, and a descheduled thread makes every split product wait. Measured on the shared 2-core machine
(load average about 200): with torch's default of 2 threads every configuration ran about 6x slower and the
batched rollout reached only 1.06x num_envs=1; with 1 thread it reached 2.45x.

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
    torch_threads: int
    timings: dict[str, RolloutTimings] = field(default_factory=dict)
    """Each configuration's fastest round."""

    def episodes_per_minute(self, name: str) -> float:
        return 60.0 * self.episodes / self.timings[name].wall_s

    def ratio(self, name: str) -> float:
        """Throughput of `name` over num_envs=1 (same episodes, same run)."""
        return self.episodes_per_minute(name) / self.episodes_per_minute("num_envs=1")

    def env_share(self, name: str) -> float:
        timing = self.timings[name]
        return timing.env_s / (timing.env_s + timing.policy_s)


def run_agents_benchmark(
    episodes: int = 8, max_steps: int = 3, torch_threads: int = 1, rounds: int = 3
) -> AgentsBenchResult:
    import torch

    oracle = RolloutEngine(ENV, OracleAgent(), episodes=8).run()
    threads_before = torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    try:
        with tempfile.TemporaryDirectory() as folder:
            build_tiny_model(oracle, folder)
            RolloutEngine(
                ENV, TransformersAgent(folder, do_sample=False), env_kwargs={"max_steps": 1}
            ).run()  # warm-up
            result = AgentsBenchResult(episodes=episodes, torch_threads=torch_threads)
            names = list(CONFIGS)
            for round_ in range(rounds):
                for name in names[round_ % len(names) :] + names[: round_ % len(names)]:
                    num_envs, batch = CONFIGS[name]
                    engine = RolloutEngine(
                        ENV,
                        TransformersAgent(folder, do_sample=False),
                        episodes=episodes,
                        num_envs=num_envs,
                        batch=batch,
                        env_kwargs={"max_steps": max_steps},
                    )
                    engine.run()
                    best = result.timings.get(name)
                    if best is None or engine.timings.wall_s < best.wall_s:
                        result.timings[name] = engine.timings
    finally:
        torch.set_num_threads(threads_before)
    return result
