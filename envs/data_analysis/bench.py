"""`prm bench data`: the speed of `prm/data-analysis-v0`'s kernel against a fresh process, in the same run.

In one sandbox of the family's image, measures:
- kernel start: `Kernel(sandbox)` (one `docker exec`, the server source sent in, connected to its socket);
- a trivial cell (`x = 1`) through `Kernel.run`, and through a whole `env.step(python)` (JSON parsing,
  argument validation, step signals, the observation text);
- the baseline: `python3 -c 'x = 1'` as a fresh process through `sandbox.exec` (the sandbox's fast channel).

The paths take turns step by step. Target: a step costs at most 0.2x the fresh process (p50 over p50).

>>> result = run_data_benchmark(steps=5)  # doctest: +SKIP
>>> result.ratio("env.step(python)") < 0.2  # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from .env import DataAnalysisEnv
from .kernel import Kernel

TARGET_RATIO = 0.2
BASELINE = "fresh python3 -c"
TRIVIAL = "x = 1"


@dataclass
class DataBenchResult:
    steps: int
    kernel_start_s: list[float] = field(default_factory=list)
    p50_ms: dict[str, float] = field(default_factory=dict)
    p95_ms: dict[str, float] = field(default_factory=dict)

    def ratio(self, path: str) -> float:
        """p50 of `path` over p50 of the fresh process."""
        return self.p50_ms[path] / self.p50_ms[BASELINE]

    def to_dict(self) -> dict:
        return asdict(self) | {"ratios": {path: self.ratio(path) for path in self.p50_ms}}


def _time_interleaved(calls: dict[str, Callable[[], object]], steps: int) -> dict[str, list[float]]:
    """Seconds per call of each path, the paths taking turns (so a change in machine load hits all alike)."""
    seconds: dict[str, list[float]] = {path: [] for path in calls}
    for _ in range(steps):
        for path, call in calls.items():
            started = time.perf_counter()
            call()
            seconds[path].append(time.perf_counter() - started)
    return seconds


def run_data_benchmark(steps: int = 200, starts: int = 5, scenario: str = "dabench-0") -> DataBenchResult:
    """Times `starts` kernel starts and `steps` trivial cells per path (see the module docstring)."""
    result = DataBenchResult(steps=steps)
    env = DataAnalysisEnv(scenario=scenario, max_steps=steps + 1)
    try:
        env.reset(seed=0)
        for _ in range(starts):
            with Kernel(env.sandbox) as kernel:
                result.kernel_start_s.append(kernel.start_seconds)
        action = json.dumps({"tool": "python", "args": {"code": TRIVIAL}})
        paths = {
            BASELINE: lambda: env.sandbox.exec(f"python3 -c '{TRIVIAL}'", timeout=30),
            "Kernel.run": lambda: env.kernel.run(TRIVIAL),
            "env.step(python)": lambda: env.step(action),
        }
        for path, seconds in _time_interleaved(paths, steps).items():
            p50, p95 = np.percentile(np.asarray(seconds) * 1e3, [50, 95])
            result.p50_ms[path], result.p95_ms[path] = float(p50), float(p95)
    finally:
        env.close()
    return result
