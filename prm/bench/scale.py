"""`prm bench scale`: oracle episodes per minute at 1, 2 and 4 envs, in-process and on Ray, and a projection
for a cluster.

Every configuration plays the same episodes (seeds 0..N-1 of the env's pack, `OracleAgent`, so no policy time):
throughput is env work only. One untimed episode per back end warms caches (images, indexes) first; on Ray
one local session serves every configuration (its start is not timed; each configuration's actor starts, one
per env, are). Scaling efficiency of n envs = rate(n) / (n x rate(1)) of the same back end,
measured in the same run. The cluster projection multiplies the measured per-env rate of the largest Ray
configuration by the envs a cluster holds, under stated assumptions (see `ScaleResult.projection`).

>>> result = run_scale_benchmark("prm/search-qa-v0", episodes=4, env_counts=(1, 2))  # doctest: +SKIP
>>> result.efficiency("ray", 2)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import prm  # noqa: F401  (registers the envs)
from prm.agents import OracleAgent
from prm.rollout import RolloutEngine


@dataclass
class ScaleResult:
    episodes: int
    cores: int
    wall_s: dict[tuple[str, int], float] = field(default_factory=dict)

    def episodes_per_minute(self, backend: str, num_envs: int) -> float:
        return 60.0 * self.episodes / self.wall_s[backend, num_envs]

    def efficiency(self, backend: str, num_envs: int) -> float:
        """rate(n) / (n x rate(1)) on the same back end: 1.0 is linear scaling."""
        return self.episodes_per_minute(backend, num_envs) / (num_envs * self.episodes_per_minute(backend, 1))

    def projection(self, nodes: int, cores_per_node: int) -> tuple[float, str]:
        """Projected episodes per minute on `nodes` nodes of `cores_per_node` cores, and its assumptions."""
        backend = "ray" if any(b == "ray" for b, _ in self.wall_s) else "local"
        largest = max(n for b, n in self.wall_s if b == backend)
        per_env = self.episodes_per_minute(backend, largest) / largest
        envs_here_per_core = largest / self.cores
        envs = nodes * cores_per_node * envs_here_per_core
        assumptions = (
            f"{per_env:.2f} episodes/min per env ({backend}, {largest} envs on {self.cores} cores here, so "
            f"{envs_here_per_core:g} envs per core) x {envs:g} envs on {nodes} nodes x {cores_per_node} cores; "
            "assumes envs per core and per-env speed as measured here (the same load per core), "
            "the oracle's zero policy time (a model's time adds to each step), and a Docker engine per node"
        )
        return per_env * envs, assumptions


def run_scale_benchmark(
    env_id: str,
    *,
    episodes: int = 4,
    env_counts: Sequence[int] = (1, 2, 4),
    backends: Sequence[str] = ("local", "ray"),
    cores: int = 2,
    env_kwargs: dict | None = None,
    on_done: Callable[[str, int], None] | None = None,
) -> ScaleResult:
    """Times `episodes` oracle episodes of `env_id` for every back end and env count."""
    result = ScaleResult(episodes=episodes, cores=cores)
    ray = None
    if "ray" in backends:
        import ray as ray_module

        from prm.ray_backend import start_local_ray

        ray = None if ray_module.is_initialized() else start_local_ray()  # one session for all configurations
    try:
        for backend in backends:
            RolloutEngine(env_id, OracleAgent(), backend=backend, env_kwargs=env_kwargs).run()  # warm-up
            for num_envs in env_counts:
                result.wall_s[backend, num_envs] = _time(env_id, episodes, num_envs, backend, env_kwargs)
                if on_done is not None:
                    on_done(backend, num_envs)
    finally:
        if ray is not None:
            ray.shutdown()
    return result


def _time(env_id: str, episodes: int, num_envs: int, backend: str, env_kwargs: dict | None) -> float:
    engine = RolloutEngine(
        env_id,
        OracleAgent(),
        episodes=episodes,
        num_envs=num_envs,
        backend=backend,
        env_kwargs=env_kwargs,
    )
    engine.run()
    return engine.timings.wall_s
