"""`prm bench rewards`: does each process signal separate harmful steps from good ones, does gating stop
reward farming, and what does the LSP reward cost per edit?

1. Fidelity. For each SWE scenario, one episode under `lsp` and `progress:test_pass` plays labelled steps:
   *harmful* steps taken from the start state and each undone by the next step (the undo is not scored):
   `syntax` (append a broken `def`), `type` (append a function returning the wrong type), `deleted` (replace
   a function that the scenario's tests use with a comment), `behaviour` (make a function that a
   pass_to_pass test calls raise); *neutral* steps (`view`, `search`); then the *good* steps, the gold
   patch's hunks as the oracle plays them (`prm.envs.swe.oracle`), and submit. Per signal and harmful
   category: the AUROC of separating harmful from good steps by the step's component (1.0 = every good step
   scores above every harmful one; ties count half).
2. Gating. A reward-farming agent (suppresses the gold file's diagnostics with a file-level
   `# type: ignore`, then breaks and repairs the file twice, then submits without fixing the bug) and the
   honest oracle, each recorded once under the two signals; their returns are computed summed (ungated),
   under `gated:threshold=1` (offline, `prm.rewards.rescore`), and outcome-only.
3. Overhead. The same edit steps (a gold hunk applied and undone, alternately) timed through `step()` on
   the bare env and under `LSPDiagnostics` (p50 with a warm server). The first edit of an episode is
   reported apart, right after reset and after a 2 s pause (an agent's thinking time, during which the
   server loads the repository in the background).
"""

from __future__ import annotations

import ast
import json
import shlex
import statistics
import time
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from prm.rewards.rescore import rescore
from prm.rewards.spec import apply_rewards

SIGNALS = ["lsp", "progress:test_pass"]
COMPONENTS = {"lsp": "lsp", "progress:test_pass": "progress"}
HARMFUL = ("syntax", "type", "deleted", "behaviour")
TARGETS = {("lsp", "syntax"): 0.9, ("lsp", "type"): 0.9, ("progress", "behaviour"): 0.9}
SYNTAX_BREAK = "\n\ndef _prm_bench_broken(:\n    pass\n"
TYPE_BREAK = '\n\ndef _prm_bench_typed() -> int:\n    return "not an int"\n'
DELETED_MARK = "# (function removed by prm bench)\n"
RAISE_LINE = 'raise RuntimeError("broken by prm bench")'
THINK_S = 2.0


class LabelledStep(BaseModel):
    scenario: str
    label: Literal["good", "harmful", "neutral"]
    category: str
    components: dict[str, float]
    infra_error: bool = False


class SignalScore(BaseModel):
    signal: str
    category: str
    auroc: float | None
    good: int
    harmful: int
    target: float | None = None


class GatingRow(BaseModel):
    scenario: str
    agent: str
    outcome: float | None
    ungated: float
    gated: float
    outcome_only: float


class OverheadRow(BaseModel):
    scenario: str
    file: str
    lines: int
    edits: int
    bare_ms: float
    lsp_ms: float
    first_edit_ms: float
    first_edit_after_pause_ms: float

    @property
    def added_ms(self) -> float:
        return self.lsp_ms - self.bare_ms


class RewardBenchResult(BaseModel):
    steps: list[LabelledStep]
    scores: list[SignalScore]
    gating: list[GatingRow]
    overhead: list[OverheadRow]


def auroc(good: list[float], harmful: list[float]) -> float | None:
    """P(a good step scores above a harmful one), ties counted half (the Mann-Whitney AUC)."""
    if not good or not harmful:
        return None
    wins = sum((g > h) + 0.5 * (g == h) for g in good for h in harmful)
    return wins / (len(good) * len(harmful))


def tool_call(tool: str, **args: Any) -> str:
    """An action string: `{"tool": tool, "args": args}`."""
    return json.dumps({"tool": tool, "args": args})


def edit_action(path: str, old: str, new: str) -> str:
    """A `prm/swe-v0` edit: replace the exact text `old` by `new` in `path`."""
    return tool_call("edit", path=path, old=old, new=new)


def append_action(path: str, text: str) -> str:
    """A `prm/swe-v0` bash step that appends `text` to `path`."""
    return tool_call("bash", command=f"printf %s {shlex.quote(text)} >> {shlex.quote(path)}")


def _gold_edits(env: gym.Env) -> list[dict]:
    calls = [json.loads(action) for action in env.unwrapped.oracle_actions()]
    return [call for call in calls if call["tool"] == "edit"]


def _functions(source: str) -> list[tuple[str, str, ast.FunctionDef]]:
    """(name, exact source segment with decorators, node) of the module's top-level functions."""
    lines = source.splitlines(keepends=True)
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef):
            start = min([node.lineno] + [d.lineno for d in node.decorator_list]) - 1
            found.append((node.name, "".join(lines[start : node.end_lineno]), node))
    return found


def _used_by_tests(env: gym.Env, functions: list, which: str) -> tuple[str, str, ast.FunctionDef] | None:
    """A function of the gold file that the scenario's `which` tests name (by test name first, then by text)."""
    tests = env.unwrapped.scenario.tests
    ids = tests.pass_to_pass if which == "pass_to_pass" else [*tests.fail_to_pass, *tests.pass_to_pass]
    by_name = {name: item for item in functions for name in [item[0]]}
    for test_id in ids:
        name = test_id.split("::")[-1].removeprefix("test_").split("[")[0]
        if name in by_name:
            return by_name[name]
    texts = []
    for path in {test_id.split("::")[0] for test_id in ids}:
        try:
            texts.append(env.unwrapped.sandbox.read_file(path).decode("utf-8", errors="replace"))
        except FileNotFoundError:
            continue
    return next((item for item in functions if any(f"{item[0]}(" in text for text in texts)), None)


def _harmful_steps(env: gym.Env, path: str) -> list[tuple[str, str, str]]:
    """(category, harmful action, undo action) for the gold file at `path` in the start state."""
    source = env.unwrapped.sandbox.read_file(path).decode("utf-8")
    functions = _functions(source)
    steps = [
        ("syntax", append_action(path, SYNTAX_BREAK), edit_action(path, SYNTAX_BREAK, "")),
        ("type", append_action(path, TYPE_BREAK), edit_action(path, TYPE_BREAK, "")),
    ]
    used = _used_by_tests(env, functions, "all")
    if used is not None:
        _, segment, _ = used
        steps.append(
            ("deleted", edit_action(path, segment, DELETED_MARK), edit_action(path, DELETED_MARK, segment))
        )
    called = _used_by_tests(env, functions, "pass_to_pass")
    if called is not None:
        _, segment, node = called
        first = node.body[1] if len(node.body) > 1 and _is_docstring(node.body[0]) else node.body[0]
        offset = first.lineno - min([node.lineno] + [d.lineno for d in node.decorator_list])
        lines = segment.splitlines(keepends=True)
        indent = " " * first.col_offset
        broken = "".join(lines[:offset] + [f"{indent}{RAISE_LINE}\n"] + lines[offset:])
        steps.append(("behaviour", edit_action(path, segment, broken), edit_action(path, broken, segment)))
    return steps


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


def _labelled(env: gym.Env, action: str, scenario: str, label: str, category: str) -> LabelledStep:
    """Steps `env` with `action` and labels the signal components the step produced."""
    _, _, _, _, info = env.step(action)
    components = {name: info["reward_components"].get(name) for name in COMPONENTS.values()}
    return LabelledStep(
        scenario=scenario,
        label=label,
        category=category,
        components={k: v for k, v in components.items() if v is not None},
        infra_error=bool(info["infra_error"]),
    )


def labelled_steps(scenario: str, sandbox: str) -> list[LabelledStep]:
    env = apply_rewards(gym.make("prm/swe-v0", scenario=scenario, sandbox=sandbox), SIGNALS)
    try:
        env.reset(seed=0)
        edits = _gold_edits(env)
        path = edits[0]["args"]["path"]
        steps = []
        for category, harmful, undo in _harmful_steps(env, path):
            steps.append(_labelled(env, harmful, scenario, "harmful", category))
            env.step(undo)
        name = _functions(env.unwrapped.sandbox.read_file(path).decode())[0][0]
        for category, action in (
            ("view", tool_call("view", path=path)),
            ("search", tool_call("search", pattern=f"def {name}")),
        ):
            steps.append(_labelled(env, action, scenario, "neutral", category))
        steps += [_labelled(env, json.dumps(edit), scenario, "good", "gold hunk") for edit in edits]
        return steps
    finally:
        env.close()


def scores(steps: list[LabelledStep]) -> list[SignalScore]:
    usable = [step for step in steps if not step.infra_error]
    rows = []
    for signal in COMPONENTS.values():
        good = [s.components[signal] for s in usable if s.label == "good" and signal in s.components]
        for category in (*HARMFUL, "all harmful"):
            harmful = [
                s.components[signal]
                for s in usable
                if s.label == "harmful" and signal in s.components and category in (s.category, "all harmful")
            ]
            rows.append(
                SignalScore(
                    signal=signal,
                    category=category,
                    auroc=auroc(good, harmful),
                    good=len(good),
                    harmful=len(harmful),
                    target=TARGETS.get((signal, category)),
                )
            )
    return rows


def _farming_actions(env: gym.Env) -> list[str]:
    path = _gold_edits(env)[0]["args"]["path"]
    suppress = tool_call("bash", command=f"sed -i '1i # type: ignore' {shlex.quote(path)}")
    cycle = [append_action(path, SYNTAX_BREAK), edit_action(path, SYNTAX_BREAK, "")]
    return [suppress, *cycle, *cycle, tool_call("submit")]


def gating_rows(scenario: str, sandbox: str) -> list[GatingRow]:
    from prm.agents import OracleAgent, ScriptedAgent
    from prm.rollout import run_episode

    rows = []
    for agent_name in ("honest", "farming"):
        env = apply_rewards(gym.make("prm/swe-v0", scenario=scenario, sandbox=sandbox), SIGNALS)
        try:
            if agent_name == "honest":
                agent = OracleAgent()
            else:
                env.reset(seed=0)
                agent = ScriptedAgent(_farming_actions(env))
            trajectory = run_episode(env, agent, seed=0, scenario_id=scenario, reward_config=SIGNALS)
        finally:
            env.close()
        gated = rescore(trajectory, [*SIGNALS, "gated:threshold=1"])
        outcome = (trajectory.outcome.outcome or {}).get("reward") if trajectory.outcome else None
        rows.append(
            GatingRow(
                scenario=scenario,
                agent=agent_name,
                outcome=outcome,
                ungated=sum(trajectory.rewards),
                gated=sum(gated.rewards),
                outcome_only=sum(step.info.get("env_reward", step.reward) for step in trajectory.steps),
            )
        )
    return rows


def _time_edits(env: gym.Env, actions: list[str], pause_s: float = 0.0) -> list[float]:
    env.reset(seed=0)
    time.sleep(pause_s)  # an agent's thinking time, during which the server warms up
    times = []
    for action in actions:
        start = time.perf_counter()
        env.step(action)
        times.append((time.perf_counter() - start) * 1000)
    return times


def overhead_row(scenario: str, sandbox: str, edits: int) -> OverheadRow:
    bare = gym.make("prm/swe-v0", scenario=scenario, sandbox=sandbox)
    with_lsp = apply_rewards(gym.make("prm/swe-v0", scenario=scenario, sandbox=sandbox), ["lsp"])
    try:
        bare.reset(seed=0)
        hunk = _gold_edits(bare)[0]["args"]
        forth, back = (
            edit_action(hunk["path"], hunk["old"], hunk["new"]),
            edit_action(hunk["path"], hunk["new"], hunk["old"]),
        )
        actions = [forth if i % 2 == 0 else back for i in range(edits + 1)]
        lines = bare.unwrapped.sandbox.read_file(hunk["path"]).decode().count("\n")
        bare_ms = _time_edits(bare, actions)[1:]
        lsp_times = _time_edits(with_lsp, actions)
        after_pause = _time_edits(with_lsp, actions[:1], pause_s=THINK_S)[0]
    finally:
        bare.close()
        with_lsp.close()
    return OverheadRow(
        scenario=scenario,
        file=hunk["path"],
        lines=lines,
        edits=edits,
        bare_ms=statistics.median(bare_ms),
        lsp_ms=statistics.median(lsp_times[1:]),
        first_edit_ms=lsp_times[0],
        first_edit_after_pause_ms=after_pause,
    )


def run_reward_benchmark(
    scenarios: list[str] | None = None,
    *,
    edits: int = 5,
    sandbox: str = "auto",
    progress: Console | None = None,
) -> RewardBenchResult:
    """Runs the three parts over `scenarios` (default: every scenario of the packaged SWE pack)."""
    from prm.registration import env_class

    ids = scenarios or env_class("prm/swe-v0").scenario_ids()
    console = progress or Console(quiet=True)
    steps, gating, overhead = [], [], []
    for number, scenario in enumerate(ids, start=1):
        console.log(f"[{number}/{len(ids)}] {Path(scenario).stem}: labelled steps, gating, overhead")
        steps += labelled_steps(scenario, sandbox)
        gating += gating_rows(scenario, sandbox)
        overhead.append(overhead_row(scenario, sandbox, edits))
    return RewardBenchResult(steps=steps, scores=scores(steps), gating=gating, overhead=overhead)


def print_report(result: RewardBenchResult, console: Console) -> None:
    table = Table(
        "signal", "harmful kind", "AUROC", "good", "harmful", "target", title="harmful vs good steps"
    )
    for row in result.scores:
        value = "-" if row.auroc is None else f"{row.auroc:.3f}"
        met = (
            ""
            if row.target is None or row.auroc is None
            else (" ok" if row.auroc >= row.target else " MISSED")
        )
        table.add_row(
            row.signal, row.category, value, str(row.good), str(row.harmful), f"{row.target or ''}{met}"
        )
    console.print(table)
    neutral = [s for s in result.steps if s.label == "neutral"]
    for signal in COMPONENTS.values():
        values = [s.components.get(signal, 0.0) for s in neutral]
        console.print(
            f"neutral steps ({len(values)}): mean {signal} = {statistics.fmean(values) if values else 0:+.3f}"
        )
    gating = Table(
        "scenario", "agent", "outcome", "ungated", "gated", "outcome-only", title="returns: gating vs farming"
    )
    for row in result.gating:
        gating.add_row(
            row.scenario,
            row.agent,
            str(row.outcome),
            f"{row.ungated:+.2f}",
            f"{row.gated:+.2f}",
            f"{row.outcome_only:+.2f}",
        )
    console.print(gating)
    farmers = [row for row in result.gating if row.agent == "farming"]
    ok = all(row.gated <= row.outcome_only + 1e-9 for row in farmers)
    console.print(f"farming agent under gating earns no more than outcome-only: {'yes' if ok else 'NO'}")
    cost = Table(
        "scenario",
        "lines",
        "bare ms",
        "lsp ms",
        "added ms",
        "ratio",
        "1st edit ms",
        f"1st after {THINK_S:g}s",
        title="LSP overhead per edit step (p50, warm server)",
    )
    for row in result.overhead:
        cost.add_row(
            row.scenario,
            str(row.lines),
            f"{row.bare_ms:.1f}",
            f"{row.lsp_ms:.1f}",
            f"{row.added_ms:.1f}",
            f"{row.lsp_ms / row.bare_ms:.1f}x",
            f"{row.first_edit_ms:.0f}",
            f"{row.first_edit_after_pause_ms:.0f}",
        )
    console.print(cost)
    added = [row.added_ms for row in result.overhead]
    if added:
        console.print(f"median added per edit: {statistics.median(added):.0f} ms (target < 300 ms)")
