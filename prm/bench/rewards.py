"""`prm bench rewards`: does each process signal separate harmful steps from good ones, does gating stop
reward farming, and what does the LSP reward cost per edit?

The bench runs on every family that declares `repairs_code` (`prm.family.Family`; found through the registry,
`prm.registration.families`): today `prm/swe-v0`.

1. Fidelity. For each scenario, one episode under `lsp` and `progress:test_pass` plays labelled steps:
   *harmful* steps taken from the start state and each undone by the next step (the undo is not scored):
   in every gold file, `syntax` (append a broken `def`), `type` (append a function returning the wrong
   type), `type in body` (an ill-typed assignment inside an existing function or method), `signature` (a
   new required parameter on a function that the file calls elsewhere), `deleted` (replace a function that
   the scenario's tests use with a comment), `behaviour` (make a function that a pass_to_pass test calls
   raise), `logic` (negate an `if` in it: type-checks); *near-neutral* edits (a comment inside a function,
   a renamed local) and *neutral* steps (`view`, `search`: they change no file, so they score 0 by
   construction); then the *good* steps, the gold patch's hunks as the oracle plays them
   (`oracle_actions()`), and submit. Each harmful label is checked before it counts: a type-level break
   must add an error in a whole-file Pyright check of the file, a behaviour-level one (`deleted`,
   `behaviour`, `logic`) must fail a scored test; labels that do not hold, and steps flagged
   `infra_error`, are counted and left out. Per signal and harmful category: the AUROC of separating
   harmful from good steps by the step's component (1.0 = every good step scores above every harmful one;
   ties count half), with n per cell.
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
import re
import shlex
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

import gymnasium as gym
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from prm.models import StepRecord, Trajectory, TrajectoryHeader
from prm.registration import env_class, families
from prm.rewards.langserver import LanguageServer
from prm.rewards.rescore import rescore
from prm.rewards.spec import apply_rewards
from prm.rewards.state_text import first_observation

SIGNALS = ["lsp", "progress:test_pass"]
COMPONENTS = {"lsp": "lsp", "progress:test_pass": "progress"}
HARMFUL = ("syntax", "type", "type in body", "signature", "deleted", "behaviour", "logic")
TARGETS = {("lsp", "syntax"): 0.9, ("lsp", "type"): 0.9, ("progress", "behaviour"): 0.9}
SYNTAX_BREAK = "\n\ndef _prm_bench_broken(:\n    pass\n"
TYPE_BREAK = '\n\ndef _prm_bench_typed() -> int:\n    return "not an int"\n'
DELETED_MARK = "# (function removed by prm bench)\n"
RAISE_LINE = 'raise RuntimeError("broken by prm bench")'
INNER_TYPE_BREAK = '_prm_bench_count: int = "not an int"'
COMMENT = "# a note added by prm bench"
THINK_S = 2.0


class LabelledStep(BaseModel):
    scenario: str
    label: Literal[
        "good", "harmful", "neutral", "unverified"
    ]  # unverified: a harmful label that did not hold
    category: str
    components: dict[str, float]
    infra_error: bool = False
    fails_a_scored_test: bool | None = None
    step: int | None = None  # its index in the episode (`episode_record`), for signals scored offline


class SignalScore(BaseModel):
    signal: str
    category: str
    auroc: float | None
    good: int
    harmful: int
    dropped: int = 0
    unverified: int = 0
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
    """An `edit` call: replace the exact text `old` by `new` in `path`."""
    return tool_call("edit", path=path, old=old, new=new)


def append_action(path: str, text: str) -> str:
    """A `bash` call that appends `text` to `path`."""
    return tool_call("bash", command=f"printf %s {shlex.quote(text)} >> {shlex.quote(path)}")


def _gold_edits(env: gym.Env) -> list[dict]:
    calls = [json.loads(action) for action in env.unwrapped.oracle_actions()]
    return [call for call in calls if call["tool"] == "edit"]


def _functions(source: str) -> list[tuple[str, str, ast.FunctionDef]]:
    """(name, exact source segment with decorators, node) of the module's functions and methods (nested
    functions excepted), in file order."""
    lines = source.splitlines(keepends=True)
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef)):
            for child in node.body:
                if isinstance(child, ast.FunctionDef):
                    start = min([child.lineno] + [d.lineno for d in child.decorator_list]) - 1
                    found.append((child.name, "".join(lines[start : child.end_lineno]), child))
    return sorted(found, key=lambda item: item[2].lineno)


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


def _first_statement(node: ast.FunctionDef) -> ast.stmt:
    return node.body[1] if len(node.body) > 1 and _is_docstring(node.body[0]) else node.body[0]


def _insert_in_body(segment: str, node: ast.FunctionDef, line: str) -> str:
    """`segment` (the function's source) with `line` inserted before its first statement (after a docstring)."""
    first = _first_statement(node)
    offset = first.lineno - min([node.lineno] + [d.lineno for d in node.decorator_list])
    lines = segment.splitlines(keepends=True)
    return "".join(lines[:offset] + [f"{' ' * first.col_offset}{line}\n"] + lines[offset:])


def _called_in_file(functions: list, source: str) -> tuple[str, str, ast.FunctionDef] | None:
    """A top-level function with positional parameters that another function of the file calls."""
    for name, segment, node in functions:
        if node.col_offset == 0 and node.args.args and segment.count(f"{name}(") < source.count(f"{name}("):
            return name, segment, node
    return None


def _local_to_rename(node: ast.FunctionDef) -> str | None:
    """A local variable of the function (assigned by name, not a parameter), or None."""
    params = {a.arg for a in [*node.args.args, *node.args.kwonlyargs]}
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store) and child.id not in params:
            return child.id
    return None


def _negated_if(source: str, prefer: str | None) -> tuple[str, str] | None:
    """(line, the line with its `if` condition negated) for the first `if` whose line is unique, in the
    function `prefer` first, then in file order (a logic change that type-checks), or None."""
    lines = source.splitlines(keepends=True)
    for _, _, node in sorted(_functions(source), key=lambda item: item[0] != prefer):
        for branch in (n for n in ast.walk(node) if isinstance(n, ast.If)):
            test, line = ast.unparse(branch.test), lines[branch.lineno - 1]
            if f"if {test}:" in line and source.count(line) == 1:
                return line, line.replace(f"if {test}:", f"if not ({test}):", 1)
    return None


def _edit_pair(path: str, old: str, new: str) -> tuple[str, str]:
    return edit_action(path, old, new), edit_action(path, new, old)


def _harmful_steps(env: gym.Env, path: str) -> list[tuple[str, str, str, str]]:
    """(category, label, action, undo action) for the file at `path` in the start state: harmful steps of
    each kind that the file allows, and near-neutral edits (a comment, a renamed local)."""
    source = env.unwrapped.sandbox.read_file(path).decode("utf-8")
    functions = _functions(source)
    steps = [
        ("syntax", "harmful", append_action(path, SYNTAX_BREAK), edit_action(path, SYNTAX_BREAK, "")),
        ("type", "harmful", append_action(path, TYPE_BREAK), edit_action(path, TYPE_BREAK, "")),
    ]
    used = _used_by_tests(env, functions, "all")
    if used is not None:
        _, segment, _ = used
        steps.append(("deleted", "harmful", *_edit_pair(path, segment, DELETED_MARK)))
    called = _used_by_tests(env, functions, "pass_to_pass")
    if called is not None:
        _, segment, node = called
        steps.append(
            ("behaviour", "harmful", *_edit_pair(path, segment, _insert_in_body(segment, node, RAISE_LINE)))
        )
    negated = _negated_if(source, called[0] if called else None)
    if negated is not None:
        steps.append(("logic", "harmful", *_edit_pair(path, *negated)))
    for _, segment, node in functions:  # a type error inside an existing function (or method)
        if node.body and not isinstance(_first_statement(node), ast.Pass):
            broken = _insert_in_body(segment, node, INNER_TYPE_BREAK)
            steps.append(("type in body", "harmful", *_edit_pair(path, segment, broken)))
            break
    caller = _called_in_file(functions, source)
    if caller is not None:
        name, segment, node = caller
        header = segment.splitlines(keepends=True)[
            node.lineno - min([node.lineno] + [d.lineno for d in node.decorator_list])
        ]
        if f"def {name}(" in header:
            changed = header.replace(f"def {name}(", f"def {name}(_prm_bench_extra, ", 1)
            steps.append(("signature", "harmful", *_edit_pair(path, header, changed)))
    if functions:
        _, segment, node = functions[0]
        steps.append(
            ("comment", "neutral", *_edit_pair(path, segment, _insert_in_body(segment, node, COMMENT)))
        )
        local = next((v for v in (_local_to_rename(n) for _, _, n in functions) if v), None)
        if local is not None:
            name, segment, node = next(f for f in functions if _local_to_rename(f[2]) == local)
            renamed = re.sub(rf"(?<![.\w]){re.escape(local)}\b", f"{local}_renamed", segment)
            steps.append(("rename local", "neutral", *_edit_pair(path, segment, renamed)))
    return steps


def _is_docstring(node: ast.stmt) -> bool:
    return (
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    )


TYPE_CHECKED = ("type", "type in body", "signature")
TEST_CHECKED = ("deleted", "behaviour", "logic")


def _labelled(env: gym.Env, action: str, scenario: str, label: str, category: str) -> LabelledStep:
    """Steps `env` with `action` and labels the signal components the step produced."""
    _, _, _, _, info = env.step(action)
    components = {name: info["reward_components"].get(name) for name in COMPONENTS.values()}
    potential = info.get("progress_potential")
    return LabelledStep(
        scenario=scenario,
        label=label,
        category=category,
        components={k: v for k, v in components.items() if v is not None},
        infra_error=bool(info["infra_error"]),
        fails_a_scored_test=None if potential is None else potential["after"] < potential["before"],
        step=len(env.unwrapped.history) - 1,
    )


def _whole_file_errors(server: LanguageServer, path: str, text: str) -> int:
    return sum(d.get("severity", 1) == 1 for d in server.diagnostics(server.set_text(path, text)))


def _verify(step: LabelledStep, server: LanguageServer, path: str, start: str, text: str) -> LabelledStep:
    """A harmful label holds when the step does what its kind claims: a type-level break adds an error in a
    whole-file check (`server`, on the file alone), a behaviour-level break fails a scored test."""
    if step.label != "harmful":
        return step
    if step.category in TYPE_CHECKED:
        holds = _whole_file_errors(server, path, text) > _whole_file_errors(server, path, start)
    elif step.category in TEST_CHECKED:
        holds = bool(step.fails_a_scored_test)
    else:
        holds = True  # syntax: the text does not parse, by construction
    return step if holds else step.model_copy(update={"label": "unverified"})


def episode_record(env: gym.Env, env_id: str, scenario: str) -> Trajectory:
    """The episode so far as a trajectory: its first observation and every step's action and observation (what
    model signals read when they score the steps offline, e.g. `JudgeSpec.offline_values`)."""
    base = env.unwrapped
    header = TrajectoryHeader(
        env_id=env_id,
        scenario_id=scenario,
        prm_version="bench",
        initial_observation=first_observation(base),
    )
    steps = [
        StepRecord(index=i, action=action, observation=str(observation), reward=0.0)
        for i, (action, observation) in enumerate(base.history)
    ]
    return Trajectory(header=header, steps=steps)


def repair_env_ids() -> list[str]:
    """The env ids of the families that declare `repairs_code`: what this bench measures."""
    return [family.env_id for family in families().values() if family.repairs_code]


def labelled_repair_episode(
    env_id: str, scenario: str, sandbox: str
) -> tuple[list[LabelledStep], Trajectory]:
    """The labelled steps of one scenario of a `repairs_code` family (part 1 of the module docstring) and the
    episode they were played in (`episode_record`; `LabelledStep.step` indexes it)."""
    env = apply_rewards(gym.make(env_id, scenario=scenario, sandbox=sandbox), SIGNALS)
    folder = Path(tempfile.mkdtemp(prefix="prm-bench-check-"))
    try:
        env.reset(seed=0)
        edits = _gold_edits(env)
        steps = []
        with LanguageServer(folder) as server:
            for path in dict.fromkeys(edit["args"]["path"] for edit in edits):  # every gold file, in order
                start = env.unwrapped.sandbox.read_file(path).decode("utf-8", errors="replace")
                for category, label, harmful, undo in _harmful_steps(env, path):
                    step = _labelled(env, harmful, scenario, label, category)
                    text = env.unwrapped.sandbox.read_file(path).decode("utf-8", errors="replace")
                    steps.append(_verify(step, server, path, start, text))
                    env.step(undo)
                for category, action in (
                    ("view (no change)", tool_call("view", path=path)),
                    ("search (no change)", tool_call("search", pattern="def ")),
                ):
                    steps.append(_labelled(env, action, scenario, "neutral", category))
        steps += [_labelled(env, json.dumps(edit), scenario, "good", "gold hunk") for edit in edits]
        return steps, episode_record(env, env_id, scenario)
    finally:
        env.close()
        shutil.rmtree(folder, ignore_errors=True)


def scores(steps: list[LabelledStep]) -> list[SignalScore]:
    """Per signal and harmful kind: AUROC of good vs harmful, with n of each, the steps dropped for an
    infrastructure error and the harmful steps whose label did not hold (neither enters the AUROC)."""
    rows = []
    for signal in COMPONENTS.values():
        good = [s.components[signal] for s in steps if s.label == "good" and signal in s.components]
        for category in (*HARMFUL, "all harmful"):
            cell = [
                s
                for s in steps
                if s.label in ("harmful", "unverified") and category in (s.category, "all harmful")
            ]
            harmful = [
                s.components[signal]
                for s in cell
                if s.label == "harmful" and not s.infra_error and signal in s.components
            ]
            rows.append(
                SignalScore(
                    signal=signal,
                    category=category,
                    auroc=auroc(good, harmful),
                    good=len(good),
                    harmful=len(harmful),
                    dropped=sum(
                        s.infra_error or signal not in s.components for s in cell if s.label == "harmful"
                    ),
                    unverified=sum(s.label == "unverified" for s in cell),
                    target=TARGETS.get((signal, category)),
                )
            )
    return rows


def _farming_actions(env: gym.Env) -> list[str]:
    path = _gold_edits(env)[0]["args"]["path"]
    suppress = tool_call("bash", command=f"sed -i '1i # type: ignore' {shlex.quote(path)}")
    cycle = [append_action(path, SYNTAX_BREAK), edit_action(path, SYNTAX_BREAK, "")]
    return [suppress, *cycle, *cycle, tool_call("submit")]


def gating_rows(env_id: str, scenario: str, sandbox: str) -> list[GatingRow]:
    from prm.agents import OracleAgent, ScriptedAgent
    from prm.rollout import run_episode

    rows = []
    for agent_name in ("honest", "farming"):
        env = apply_rewards(gym.make(env_id, scenario=scenario, sandbox=sandbox), SIGNALS)
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


def overhead_row(env_id: str, scenario: str, sandbox: str, edits: int) -> OverheadRow:
    bare = gym.make(env_id, scenario=scenario, sandbox=sandbox)
    with_lsp = apply_rewards(gym.make(env_id, scenario=scenario, sandbox=sandbox), ["lsp"])
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
    env_id: str | None = None,
    edits: int = 5,
    sandbox: str = "auto",
    progress: Console | None = None,
) -> RewardBenchResult:
    """Runs the three parts over `scenarios` of `env_id` (default: every scenario of every `repairs_code`
    family's packaged pack)."""
    runs = [
        (env, scenario)
        for env in ([env_id] if env_id else repair_env_ids())
        for scenario in (scenarios or env_class(env).scenario_ids())
    ]
    console = progress or Console(quiet=True)
    steps, gating, overhead = [], [], []
    for number, (env, scenario) in enumerate(runs, start=1):
        console.log(f"[{number}/{len(runs)}] {env} {Path(scenario).stem}: labelled steps, gating, overhead")
        steps += labelled_repair_episode(env, scenario, sandbox)[0]
        gating += gating_rows(env, scenario, sandbox)
        overhead.append(overhead_row(env, scenario, sandbox, edits))
    return RewardBenchResult(steps=steps, scores=scores(steps), gating=gating, overhead=overhead)


def print_report(result: RewardBenchResult, console: Console) -> None:
    table = Table(
        "signal",
        "harmful kind",
        "AUROC",
        "good",
        "harmful",
        "dropped (infra)",
        "label not held",
        "target",
        title="harmful vs good steps (n per cell)",
    )
    for row in result.scores:
        value = "-" if row.auroc is None else f"{row.auroc:.3f}"
        met = (
            ""
            if row.target is None or row.auroc is None
            else (" ok" if row.auroc >= row.target else " MISSED")
        )
        table.add_row(
            row.signal,
            row.category,
            value,
            str(row.good),
            str(row.harmful),
            str(row.dropped),
            str(row.unverified),
            f"{row.target or ''}{met}",
        )
    console.print(table)
    neutral = Table("signal", "neutral kind", "n", "mean", "nonzero", title="neutral and near-neutral steps")
    for signal in COMPONENTS.values():
        for category in dict.fromkeys(s.category for s in result.steps if s.label == "neutral"):
            values = [
                s.components[signal]
                for s in result.steps
                if s.label == "neutral" and s.category == category and signal in s.components
            ]
            mean = f"{statistics.fmean(values):+.3f}" if values else "-"
            neutral.add_row(signal, category, str(len(values)), mean, str(sum(v != 0 for v in values)))
    console.print(neutral)
    console.print("steps that change no file score 0 by construction (no diagnostics or tests are re-run)")
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
