"""`prm bench swe`: `prm/swe-v0` env construction, reset and step latency from a cached image.

Each env figure is measured next to a baseline taken in the same run on the same image, so the ratios
(the env's overhead) hold on any machine:
- `make` with a cached repository and image vs the same construction's image lookup (`build_image`);
- `reset` without a warm pool (`warm_pool=0`: close the previous sandbox, open a fresh one seeded from the
  prepared workspace) vs a bare `DockerSandbox(image, workspace_from=...)` open plus close; target p50 < 1 s;
- `reset` with the warm pool (`warm_pool=1`, the default; the pool is given time to refill between resets,
  as an episode would) vs `reset` without it; target p50 < 0.1 s;
- `step` of `bash true` (the command plus the kernel's changed-files report) vs a bare
  `sandbox.exec("true")`, on the scenario's workspace and on one of 100,000 files (1,000 directories of 100);
  target p50 <= 2x the bare exec, whatever the workspace size;
- `step` of `view` (50 lines) vs a bare `sandbox.read_file` of the same file;
- grading (`submit`: fork, write the test files, run pytest) vs running the same pytest command in place.

Example:
    >>> from prm.envs.swe.bench import run_swe_bench
    >>> rows = run_swe_bench(resets=5, steps=20)  # doctest: +SKIP
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from prm.bench.latency import LatencyRow, timed
from prm.envs.swe.env import SweEnv
from prm.envs.swe.grading import pytest_command
from prm.envs.swe.tools import SweTools
from prm.sandboxes.docker import DockerSandbox
from prm.sandboxes.images import build_image

RESET_TARGET_S = 1.0
WARM_RESET_TARGET_S = 0.1
STEP_RATIO_TARGET = 2.0
LARGE_WORKSPACE = (1_000, 100)
"""Directories and files per directory of the large workspace (100,000 files)."""


def _large_workspace_step(image: str, steps: int) -> LatencyRow:
    """The bash tool's `true` vs a bare exec, in a sandbox whose workspace holds 100,000 files."""
    dirs, per_dir = LARGE_WORKSPACE
    with tempfile.TemporaryDirectory(prefix="prm-bench-") as tmp:
        for d in range(dirs):
            folder = Path(tmp) / f"d{d}"
            folder.mkdir()
            for f in range(per_dir):
                (folder / f"f{f}.py").write_text("x = 1\n")
        with DockerSandbox(image, workspace_from=tmp) as sandbox:
            sandbox.watch_changes()
            bash = next(tool for tool in SweTools(lambda: sandbox).tools() if tool.name == "bash")
            args = bash.params(command="true")
            return LatencyRow(
                f"step bash `true`, {dirs * per_dir:,} files",
                timed(lambda: bash.run(args), steps),
                "sandbox.exec('true')",
                timed(lambda: sandbox.exec("true"), steps),
                target_ratio=STEP_RATIO_TARGET,
            )


def run_swe_bench(
    scenario: str = "toolz-groupby-key", resets: int = 20, steps: int = 50, grades: int = 3
) -> list[LatencyRow]:
    """Measures the figures of the module docstring with real Docker sandboxes; returns one row each."""
    SweEnv(scenario, sandbox="docker").close()  # builds or finds the repository and image (not timed)
    make_times, image_times = [], []
    for _ in range(3):
        start = time.perf_counter()
        env = SweEnv(scenario, sandbox="docker", max_steps=10 * (steps + grades + 10))
        make_times.append(time.perf_counter() - start)
        image_times += timed(lambda env=env: build_image(requirements=env.scenario.image_requirements), 1)
        env.close()
    rows = [LatencyRow("make (cached repo + image)", make_times, "build_image lookup", image_times)]
    env = SweEnv(scenario, sandbox="docker", max_steps=10 * (steps + grades + 10))  # open: the warm pool runs
    cold = SweEnv(scenario, sandbox="docker", warm_pool=0)
    try:
        cold.reset(seed=0)
        cold_times = timed(lambda: cold.reset(seed=0), resets)
    finally:
        cold.close()
    try:
        bare_open = timed(lambda: DockerSandbox(env.image, workspace_from=env.repo.workspace).close(), resets)
        rows.append(
            LatencyRow(
                "reset, no pool", cold_times, "DockerSandbox open + close", bare_open, target_s=RESET_TARGET_S
            )
        )
        warm_times = []
        for _ in range(resets):
            env.wait_warm()  # an episode's worth of time for the pool to refill
            warm_times += timed(lambda: env.reset(seed=0), 1)
        rows.append(
            LatencyRow(
                "reset, warm pool", warm_times, "reset, no pool", cold_times, target_s=WARM_RESET_TARGET_S
            )
        )
        bash = json.dumps({"tool": "bash", "args": {"command": "true"}})
        rows.append(
            LatencyRow(
                "step bash `true`",
                timed(lambda: env.step(bash), steps),
                "sandbox.exec('true')",
                timed(lambda: env.sandbox.exec("true"), steps),
                target_ratio=STEP_RATIO_TARGET,
            )
        )
        rows.append(_large_workspace_step(env.image, steps))
        path = env.scenario.tests.fail_to_pass[0].split("::")[0]
        view = json.dumps({"tool": "view", "args": {"path": path, "start_line": 1, "end_line": 50}})
        rows.append(
            LatencyRow(
                "step view (50 lines)",
                timed(lambda: env.step(view), steps),
                "sandbox.read_file",
                timed(lambda: env.sandbox.read_file(path), steps),
            )
        )
        submit = json.dumps({"tool": "submit", "args": {}})
        grade_times = []
        for _ in range(grades):
            env.reset(seed=0)
            grade_times += timed(lambda: env.step(submit), 1)
        command = pytest_command(env.scenario.tests.all)
        in_place = timed(lambda: env.sandbox.exec(command, timeout=300), grades)
        rows.append(LatencyRow("grade (submit)", grade_times, "pytest in place", in_place))
    finally:
        env.close()
    return rows
