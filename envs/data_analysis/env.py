"""`prm/data-analysis-v0`: answer a question about a CSV table by running Python in a persistent kernel.

An episode: the agent gets a DABench question (with its constraints and answer format) about one table, at
`/workspace/<file_name>` (read-only: the kernel runs as its own user, which cannot change the workspace;
scratch space is `/tmp`), explores it with pandas, numpy, scipy, scikit-learn and statsmodels in a Python kernel
inside a Docker sandbox (no network), and answers in DABench's format.

Tools (JSON actions, see `prm.tools`):
- `python(code, timeout=30)`: runs a cell in the kernel; variables persist across steps like a notebook (a
  final expression's value is shown). The observation is the merged stdout/stderr (tracebacks included), at
  most `output_cap` bytes, with a marked cut. A cell past its timeout is interrupted (variables kept) or, if it
  does not come back, the kernel is restarted; a cell that kills the kernel (`os._exit`, out of memory) gets
  a fresh kernel. Each case is said in the observation. None of these is an infrastructure error.
- `answer(text)`: submits `@name[value]` parts and ends the episode. An answer with no `@name[value]` part
  also ends it, scored 0, with `outcome["answer_error"]` saying why (no free probing of the grader).

Outcome: `reward` = fraction of the gold `[name, value]` pairs matched (`prm.envs.data_analysis.answers`),
`correct` when all are, `matched` per pair, `answer`.

Native step components (weight 0 unless `reward_weights=` says otherwise), on every `python` step:
- `exec_error`: 1.0 when the cell raised (or timed out, or killed the kernel);
- `recovered`: 1.0 when the cell ran cleanly and the previous `python` step had failed;
- `new_information`: the fraction of the output's values (numbers and words) not seen in earlier outputs
  (0.0 for a failing cell or an empty output);
and on `answer`: `answer_format` (1.0 when the answer parses, else 0.0).

Hooks: `gold_answer()`, `oracle_actions()` (the reference solution's cell, then the gold answer; the gold answer
alone where the scenario has no solution), `probe()` (the fraction of gold values already present among the
kernel's variables or outputs: `progress:probe`), `fork()`, `kernel`, `sandbox`, `scenario`, `history`.

**Fork**: a new container gets a copy of the workspace and a new kernel, which re-runs the cells that completed
in this kernel, in order; so variables are rebuilt by recomputation (deterministic cells give the same state;
random draws without a seed, and files written to `/tmp`, may differ).

>>> import gymnasium as gym, prm
>>> env = gym.make("prm/data-analysis-v0", scenario="dabench-0")  # doctest: +SKIP
>>> observation, info = env.reset(seed=0)  # doctest: +SKIP
>>> observation, reward, terminated, truncated, info = env.step(
...     '{"tool": "python", "args": {"code": "import pandas as pd; pd.read_csv(\\'test_ave.csv\\').Fare.mean()"}}'
... )  # doctest: +SKIP
>>> observation  # doctest: +SKIP
'np.float64(34.65...)\\n'
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
import shlex
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from prm.env import PrmEnv
from prm.errors import SandboxError, UnknownSandboxKind
from prm.sandboxes.base import SandboxLimits
from prm.sandboxes.docker import DockerSandbox
from prm.sandboxes.images import build_image
from prm.tools import Tool, ToolResult

from .answers import MAX_ANSWER_CHARS, AnswerFormatError, normalise, parse_answer, score_answer, values_match
from .kernel import CellResult, Kernel
from .scenario import FAMILY, DataAnalysisScenario, load_data_scenario, prepared_workspace

IMAGE_REQUIREMENTS = (
    "pandas==2.2.3",
    "numpy==2.2.6",
    "scipy==1.15.3",
    "scikit-learn==1.6.1",
    "statsmodels==0.14.4",
)
MAX_CELL_TIMEOUT_S = 120.0
MAX_CODE_CHARS = 100_000
MAX_VALUES_PER_OUTPUT = 200
"""An output showing more distinct numbers than this does not count for `probe()` (a dump is not evidence)."""
_VALUES = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|[A-Za-z_]\w{2,}")
_NUMBERS = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


class PythonArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=MAX_CODE_CHARS, description="Python code; variables persist across calls")
    timeout: float = Field(default=30.0, gt=0, le=MAX_CELL_TIMEOUT_S, description="seconds")


class AnswerArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(description="the answer in the question's format, e.g. '@mean_fare[34.65]'")


@dataclasses.dataclass
class _Episode:
    """The mutable bookkeeping of one episode (copied by `fork`)."""

    scenario: DataAnalysisScenario
    seen: set[str] = dataclasses.field(default_factory=set)
    outputs: list[str] = dataclasses.field(default_factory=list)
    last_failed: bool = False
    answer: str | None = None
    answer_error: str | None = None

    def copy(self) -> _Episode:
        return dataclasses.replace(self, seen=set(self.seen), outputs=list(self.outputs))


def describe_cell(result: CellResult, timeout: float) -> str:
    """The observation of one cell: its output plus a marked note for a cut, an interrupt or a restart."""
    parts = [result.output]
    if result.truncated:
        parts.append(f"\n[prm: output truncated: {result.omitted} more bytes omitted]\n")
    if result.interrupted:
        parts.append(
            f"\n[prm: interrupted at the {timeout:g} s timeout; the kernel and its variables are kept]\n"
        )
    if result.restarted:
        parts.append(
            f"[prm: the kernel was restarted ({result.restart_reason}); all variables are lost: "
            "re-run your imports and re-load the table]\n"
        )
    text = "".join(parts)
    return text if text.strip() else "[prm: the cell ran and printed nothing]\n"


class DataAnalysisEnv(PrmEnv):
    """DABench questions answered with a persistent Python kernel in Docker (see the module docstring).

    Args:
        scenario: a packaged id (e.g. 'dabench-0'), a scenario file, a `DataAnalysisScenario`, or None to draw
            a packaged scenario per `reset` from the env's seeded generator.
        sandbox: "docker" or "auto" (the kernel needs Docker; there is no local fallback).
        output_cap: bytes of a cell's output kept in the observation.
        limits: the sandbox's resource limits (memory also bounds the kernel's address space).
    """

    scenario_family = FAMILY

    def __init__(
        self,
        scenario: str | Path | DataAnalysisScenario | None = None,
        *,
        sandbox: str = "docker",
        max_steps: int | None = None,
        reward_weights: dict[str, float] | None = None,
        output_cap: int = 20_000,
        limits: SandboxLimits | dict | None = None,
        render_mode: str | None = None,
    ):
        super().__init__(max_steps=max_steps, reward_weights=reward_weights, render_mode=render_mode)
        if sandbox not in ("docker", "auto"):
            raise UnknownSandboxKind(
                f"prm/data-analysis-v0 runs its kernel in Docker; sandbox must be 'docker' or 'auto', got {sandbox!r}"
            )
        self._fixed = None if scenario is None else self._resolve(scenario)
        self.output_cap = output_cap
        self.limits = SandboxLimits.model_validate(limits or {})
        self.image = build_image(requirements=IMAGE_REQUIREMENTS)
        self.sandbox: DockerSandbox | None = None
        self.kernel: Kernel | None = None
        self._episode: _Episode | None = None

    @staticmethod
    def _resolve(scenario: str | Path | DataAnalysisScenario) -> DataAnalysisScenario:
        return scenario if isinstance(scenario, DataAnalysisScenario) else load_data_scenario(scenario)

    @property
    def scenario(self) -> DataAnalysisScenario | None:  # type: ignore[override]
        return self._episode.scenario if self._episode else self._fixed

    # --- PrmEnv ----------------------------------------------------------------------------------------
    def _step_budget(self) -> int:
        return self.max_steps or self._episode.scenario.max_steps

    def _start(self, seed: int | None, options: dict[str, Any]) -> str:
        if options.get("scenario") is not None:
            scenario = self._resolve(options["scenario"])
        elif self._fixed is not None:
            scenario = self._fixed
        else:
            ids = self.scenario_ids()
            scenario = load_data_scenario(ids[int(self.np_random.integers(len(ids)))])
        self._close_sandbox()
        self.sandbox = DockerSandbox(
            self.image, workspace_from=prepared_workspace(scenario), limits=self.limits, sockets=True
        )
        self._episode = _Episode(scenario)
        self.kernel = self._open_kernel(self.sandbox)
        return (
            "Answer the question about the table by running Python (pandas, numpy, scipy, scikit-learn, "
            "statsmodels) in a persistent kernel, then answer in the required format.\n"
            f"The table: {self.sandbox.workspace}/{scenario.file_name} (read-only; the working directory; "
            "write scratch files to /tmp).\n\n"
            f"Question: {scenario.question}\nConstraints: {scenario.constraints}\nFormat: {scenario.format}"
        )

    def _open_kernel(self, sandbox: DockerSandbox) -> Kernel:
        """Makes the workspace readable, not writable, by the kernel's user, then starts the kernel."""
        table = shlex.quote(self._episode.scenario.file_name)
        done = sandbox.exec(f"chmod 755 . && chmod 444 {table}", timeout=30)
        if not done.ok:
            raise SandboxError(f"could not make the workspace read-only for the kernel: {done.stderr}")
        return Kernel(sandbox, cap=self.output_cap)

    def _tools(self) -> list[Tool]:
        return [
            Tool(
                "python",
                "Run Python in the persistent kernel (variables persist); shows stdout/stderr and a final "
                f"expression's value. timeout: seconds, at most {MAX_CELL_TIMEOUT_S:g}.",
                PythonArgs,
                self._python,
            ),
            Tool(
                "answer",
                "Submit the final answer as @name[value] parts in the question's format; ends the episode.",
                AnswerArgs,
                self._answer,
            ),
        ]

    def _grade(self) -> dict[str, Any]:
        episode = self._episode
        outcome: dict[str, Any] = {"reward": 0.0, "correct": False, "answer": episode.answer}
        if episode.answer_error:
            return outcome | {"answer_error": episode.answer_error}
        if episode.answer is None:
            return outcome | {"answer_error": "no answer was given"}
        scenario = episode.scenario
        reward, matched = score_answer(episode.answer, scenario.answers, self._instructions())
        return outcome | {"reward": reward, "correct": all(matched), "matched": matched}

    def _instructions(self) -> str:
        return f"{self._episode.scenario.constraints}\n{self._episode.scenario.format}"

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        observation, info = super().reset(seed=seed, options=options)
        info |= {"scenario_id": self._episode.scenario.id, "image": self.image}
        info["kernel_start_s"] = self.kernel.start_seconds
        return observation, info

    # --- tools ---------------------------------------------------------------------------------------
    def _python(self, args: PythonArgs) -> ToolResult:
        episode = self._episode
        result = self.kernel.run(args.code, args.timeout)
        failed = result.error is not None
        components = {"exec_error": float(failed), "recovered": float(episode.last_failed and not failed)}
        values = set(_VALUES.findall(result.output)) if not failed else set()
        components["new_information"] = len(values - episode.seen) / len(values) if values else 0.0
        episode.seen |= values
        episode.last_failed = failed
        if not failed:
            episode.outputs.append(result.output)
        return ToolResult(describe_cell(result, args.timeout), components)

    def _answer(self, args: AnswerArgs) -> ToolResult:
        episode = self._episode
        episode.answer = args.text.strip()
        try:
            if len(episode.answer) > MAX_ANSWER_CHARS:
                raise AnswerFormatError(f"the answer has more than {MAX_ANSWER_CHARS} characters")
            parse_answer(episode.answer)
        except AnswerFormatError as err:
            episode.answer_error = str(err)
            return ToolResult(
                f"Answer rejected: {err}. The episode ends with score 0.",
                components={"answer_format": 0.0},
                done=True,
            )
        return ToolResult("Answer submitted.", components={"answer_format": 1.0}, done=True)

    # --- hooks -----------------------------------------------------------------------------------------
    def gold_answer(self) -> str:
        return " ".join(f"@{name}[{value}]" for name, value in self.scenario.answers)

    def oracle_actions(self) -> list[str]:
        """The reference solution as one `python` cell (its output shows the answer line), then the gold answer;
        only the gold answer where the scenario has no solution. Hidden material: for oracles."""
        scenario = self.scenario
        code = scenario.solution_code()
        actions = [json.dumps({"tool": "python", "args": {"code": code, "timeout": 60}})] if code else []
        return [*actions, json.dumps({"tool": "answer", "args": {"text": self.gold_answer()}})]

    def probe(self) -> float:
        """The fraction of gold values already present in the agent's state: among the kernel's variables
        (listed by a fork of the kernel, `Kernel.probe`) or the outputs of cells that ran cleanly (an output
        with more than `MAX_VALUES_PER_OUTPUT` distinct numbers is ignored). DataPRM-style environment probing;
        the gold values never enter the sandbox: the comparison runs on the host."""
        if self.kernel is None:
            raise RuntimeError("call reset() before probe()")
        held = self.kernel.probe()
        numbers = [str(value) for value in held if isinstance(value, int | float)]
        strings = [normalise(value) for value in held if isinstance(value, str)]
        texts = []
        for output in self._episode.outputs:
            found = _NUMBERS.findall(output)
            if len(set(found)) <= MAX_VALUES_PER_OUTPUT:
                numbers += found
                texts.append(normalise(output))
        instructions = self._instructions()
        present = 0
        for _, gold in self.scenario.answers:
            if any(values_match(number, gold, instructions) for number in numbers) or (
                normalise(gold) and (normalise(gold) in strings or any(normalise(gold) in t for t in texts))
            ):
                present += 1
        return present / len(self.scenario.answers)

    def fork(self) -> DataAnalysisEnv:
        """A new env at this state: a new container with a copy of the workspace and a kernel that re-runs this
        kernel's completed cells (see the module docstring); independent afterwards."""
        if self.kernel is None:
            raise RuntimeError("call reset() before fork()")
        clone = copy.copy(self)
        clone.sandbox = self.sandbox.fork()
        clone.kernel = self._open_kernel(clone.sandbox)
        clone.kernel.replay(self.kernel.cells, timeout=MAX_CELL_TIMEOUT_S)
        clone._episode = self._episode.copy()
        clone.history = list(self.history)
        clone.reward_weights = dict(self.reward_weights)
        clone._np_random = copy.deepcopy(self._np_random)
        clone._tool_index = {tool.name: tool for tool in clone._tools()}
        return clone

    def close(self) -> None:
        self._close_sandbox()
        super().close()

    def _close_sandbox(self) -> None:
        if self.kernel is not None:
            self.kernel.close()
            self.kernel = None
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None
