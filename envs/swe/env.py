"""`prm/swe-v0`: fix a bug in a real Python repository inside a sandbox; graded by the repository's tests.

An episode: the agent reads the bug report (the first observation, with the tool manual), uses the tools
(`bash`, `view`, `edit`, `search`, `submit`; see `prm.envs.swe.tools`) on the repository at `/workspace`,
and submits. Grading follows SWE-bench's harness, in a fresh sandbox: the agent's change to the
repository's source (read from its workspace without following symlinks) is applied to the pristine start
tree, test files and test configuration stay as they were, the hidden tests are added (see
`prm.envs.swe.graded_tree`), the `fail_to_pass` and `pass_to_pass` tests run with pytest, and the episode is
resolved when every one passes. `info["outcome"] = {"reward": 1.0 | 0.0, "resolved": bool, "tests":
{id: status}, "left_out": {path: why}}` (`left_out`: the agent's files that were not graded, and why).

Every step's `info` also holds `outside_writes`: the paths outside the workspace (`/tmp`, `/dev/shm`, or
through a symlink out of it) that the step's command created or changed, as the sandbox saw them; [] when
none, None with `LocalSandbox`, which cannot tell.

Construction prepares the repository on the host (cached: sdist, bug applied, git baseline; see
`prm.envs.swe.repo`) and, for Docker, the scenario's image (`build_image(requirements)`, cached by content
hash). Each `reset` takes a sandbox seeded from the prepared workspace out of a warm pool (started in the
background while the previous episode ran; `warm_pool=`): no build and no container start per episode.
The gold patch and the test patch never enter the agent's sandbox.

Hooks for reward wrappers: `scenario`, `sandbox`, `run_tests(test_ids, apply_test_patch=True)`,
`oracle_actions()`, `fork()`, plus `task` and `history` from `PrmEnv`.

Example:
    >>> import gymnasium as gym, prm
    >>> env = gym.make("prm/swe-v0", scenario="toolz-groupby-key", sandbox="docker")  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> for action in env.unwrapped.oracle_actions():  # doctest: +SKIP
    ...     obs, reward, terminated, truncated, info = env.step(action)
    >>> info["outcome"]["resolved"], reward  # doctest: +SKIP
    (True, 1.0)
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path
from typing import Any

from prm.env import CatalogEntry, PrmEnv
from prm.envs.swe.graded_tree import SKIPPED_DIRS, graded_tree
from prm.envs.swe.grading import PYTEST_TIMEOUT_S, TestRun, run_tests
from prm.envs.swe.oracle import oracle_actions
from prm.envs.swe.repo import PreparedRepo, prepare
from prm.envs.swe.scenario import FAMILY, SweScenario, load_swe_scenario, scenario_paths
from prm.envs.swe.tools import SweTools
from prm.errors import ImageBuildError, ScenarioError, UnknownSandboxKind
from prm.sandboxes.base import Sandbox, SandboxLimits
from prm.sandboxes.images import build_image
from prm.sandboxes.pool import SandboxPool
from prm.sandboxes.select import SANDBOX_KINDS, choose_auto, open_sandbox
from prm.tools import Tool


class SweEnv(PrmEnv):
    """Bug fixing in a real Python repository (see the module docstring).

    Args:
        scenario: a scenario id from the packaged pack, a scenario file, a `SweScenario`, or None: a packaged
            scenario drawn at each `reset` from the env's seeded generator (`info["scenario_id"]` says which).
        sandbox: "auto" (Docker when an engine answers at construction, else local), "docker" or "local".
        max_steps: step budget; the scenario's `max_steps` by default.
        reward_weights: weights of reward components (default: the outcome only).
        limits: the sandbox's resource limits.
        warm_pool: how many sandboxes to keep started ahead of the next `reset` (`prm.sandboxes.pool`;
            0: open one at each reset). They are closed with the env.
        test_timeout_s: time limit of one pytest run (grading and `run_tests`); a run past it gives its
            tests the status `timeout` (e.g. the agent's code loops forever at import).
        render_mode: None or "ansi".
    """

    scenario_family = FAMILY

    def __init__(
        self,
        scenario: str | Path | SweScenario | None = None,
        sandbox: str = "auto",
        *,
        max_steps: int | None = None,
        reward_weights: dict[str, float] | None = None,
        limits: SandboxLimits | dict | None = None,
        warm_pool: int = 1,
        test_timeout_s: float = PYTEST_TIMEOUT_S,
        render_mode: str | None = None,
    ):
        super().__init__(max_steps=max_steps, reward_weights=reward_weights, render_mode=render_mode)
        if sandbox not in SANDBOX_KINDS:
            raise UnknownSandboxKind(
                f"unknown sandbox kind {sandbox!r}; choose one of {', '.join(SANDBOX_KINDS)}"
            )
        if sandbox == "auto":  # decided once, not at every reset
            sandbox = choose_auto()
        self.sandbox_kind = sandbox
        self.limits = SandboxLimits.model_validate(limits or {})
        self.sandbox: Sandbox | None = None
        self._left_out: dict[str, str] = {}
        self._tool_set = SweTools(lambda: self.sandbox)
        if warm_pool < 0:
            raise ValueError(f"warm_pool must be >= 0, got {warm_pool}")
        self.warm_pool = warm_pool
        self.test_timeout_s = test_timeout_s
        self._pool: SandboxPool | None = None
        self._drawn = scenario is None
        if scenario is not None:
            self._use(scenario if isinstance(scenario, SweScenario) else load_swe_scenario(scenario))

    def _use(self, scenario: SweScenario) -> None:
        """Makes `scenario` the env's task: its repository prepared on the host, its image built (both cached)."""
        self.scenario: SweScenario = scenario
        self.repo: PreparedRepo = prepare(scenario)
        self.image = self._build_image() if self.sandbox_kind == "docker" else None
        self._close_pool()
        if self.warm_pool:
            self._pool = SandboxPool(self._open_sandbox, size=self.warm_pool)

    def _open_sandbox(self) -> Sandbox:
        return open_sandbox(
            self.sandbox_kind, image=self.image, workspace_from=self.repo.workspace, limits=self.limits
        )

    def _build_image(self) -> str:
        """The scenario's image; a failure names the scenario file and its `requirements` field."""
        try:
            return build_image(requirements=self.scenario.image_requirements)
        except ImageBuildError as err:
            source = self.scenario._source or self.scenario.id
            raise ScenarioError(
                str(source), "requirements", f"the sandbox image cannot be built: {err}"
            ) from err

    # --- PrmEnv ----------------------------------------------------------------------------------------
    @classmethod
    def scenario_catalog(cls) -> list[CatalogEntry]:
        """The packaged scenarios, each titled by the first line of its bug report (one pack, no splits)."""
        entries = []
        for path in scenario_paths():
            first_line = load_swe_scenario(path).problem_statement.strip().splitlines()[0]
            entries.append(CatalogEntry(path.stem, "test", first_line))
        return entries

    def _step_budget(self) -> int:
        return self.max_steps or self.scenario.max_steps

    def _start(self, seed: int | None, options: dict[str, Any]) -> str:
        self._close_sandbox()
        if self._drawn:
            drawn = self.draw_scenario_id()
            if self.scenario is None or self.scenario.id != drawn:
                self._use(load_swe_scenario(drawn))
        self.sandbox = self._pool.take() if self._pool is not None else self._open_sandbox()
        self.sandbox.watch_changes()
        return (
            f"You are working in the repository {self._repo_name()} at {self.sandbox.workspace} "
            "(the current directory of every command). Fix the issue below by changing the source code, "
            "then submit. Hidden tests decide whether the issue is resolved.\n\n"
            f"<issue>\n{self.scenario.problem_statement.strip()}\n</issue>"
        )

    def _repo_name(self) -> str:
        return self.scenario.repo.pypi or Path(self.scenario.repo.path or "").name

    def _tools(self) -> list[Tool]:
        return self._tool_set.tools()

    def _grade(self) -> dict[str, Any]:
        run = self.pytest_run(self.scenario.tests.all, apply_test_patch=True)
        resolved = all(status == "passed" for status in run.statuses.values())
        outcome = {"reward": 1.0 if resolved else 0.0, "resolved": resolved, "tests": run.statuses}
        return outcome | {"left_out": self._left_out}

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = super().step(action)
        info.setdefault("outside_writes", [] if self.sandbox_kind == "docker" else None)
        return observation, reward, terminated, truncated, info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        observation, info = super().reset(seed=seed, options=options)
        info |= {"scenario_id": self.scenario.id, "sandbox": type(self.sandbox).__name__, "image": self.image}
        return observation, info

    # --- hooks -----------------------------------------------------------------------------------------
    def run_tests(self, test_ids: list[str], apply_test_patch: bool = True) -> dict[str, bool]:
        """Runs pytest ids on the current state, graded as at the end (the agent's sandbox is untouched):
        id -> passed. With `apply_test_patch`, the hidden test files are added, as at grading."""
        run = self.pytest_run(test_ids, apply_test_patch)
        return {test_id: status == "passed" for test_id, status in run.statuses.items()}

    def pytest_run(self, test_ids: list[str], apply_test_patch: bool = True) -> TestRun:
        """Like `run_tests`, with pytest's statuses (`passed`, `failed`, `missing`, ...) and output.

        Runs in a fresh sandbox on the graded tree (`prm.envs.swe.graded_tree`): the start tree plus the
        agent's source changes, its test files and test configuration left out."""
        if self.sandbox is None:
            raise RuntimeError("call reset() before running tests")
        diff = self.sandbox.diff_against(self.repo.workspace, SKIPPED_DIRS)
        hidden = self.repo.grading_files if apply_test_patch else {}
        with tempfile.TemporaryDirectory(prefix="prm-graded-") as tmp:
            tree = Path(tmp) / "tree"
            tree.mkdir()
            self._left_out = graded_tree(self.repo.workspace, diff, hidden, tree)
            with open_sandbox(
                self.sandbox_kind, image=self.image, workspace_from=tree, limits=self.limits
            ) as grading:
                return run_tests(grading, list(test_ids), self.test_timeout_s)

    def wait_warm(self) -> None:
        """Blocks until the warm pool's sandboxes have started (for benchmarks; training never needs it)."""
        if self._pool is not None:
            self._pool.wait_ready()

    def oracle_actions(self, detour: bool = False) -> list[str]:
        """The gold patch as `edit` calls on the start state, then `submit` (hidden material: for oracles).
        With `detour`, two edits first add and remove a type error (`prm.envs.swe.oracle.detour_actions`)."""
        return oracle_actions(self.repo.start_files, self.repo.gold_files, detour=detour)

    def fork(self) -> SweEnv:
        """A new env on `sandbox.fork()` with this env's bookkeeping (steps, history); independent afterwards."""
        if self.sandbox is None:
            raise RuntimeError("call reset() before fork()")
        clone = copy.copy(self)
        clone.sandbox = self.sandbox.fork()
        clone.sandbox.watch_changes()
        clone.history = list(self.history)
        clone.reward_weights = dict(self.reward_weights)
        clone._np_random = copy.deepcopy(self._np_random)
        clone._tool_set = SweTools(lambda: clone.sandbox)
        clone._pool = None  # the pool stays with this env; a fork opens its own sandbox at a reset
        clone._tool_index = {tool.name: tool for tool in clone._tools()}
        return clone

    def close(self) -> None:
        self._close_sandbox()
        self._close_pool()
        super().close()

    def _close_sandbox(self) -> None:
        if self.sandbox is not None:
            if self._pool is not None:
                self._pool.release(self.sandbox)  # closed in the background: a reset does not wait
            else:
                self.sandbox.close()
            self.sandbox = None

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
