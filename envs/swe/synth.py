"""Scenario synthesis: plant bugs in a package by AST mutation and keep the ones its own tests prove.

`prm scenario synth PACKAGE==VERSION --n N --out DIR` (or a local repository path instead of the pin), after
SWE-smith (Yang et al., 2025) and R2E-Gym (Jain et al., 2025):

1. the repository is the package's sdist (`prm.envs.swe.repo.pristine_pypi`, cached) or the directory;
   its test files are `test_*.py` / `*_test.py`; none is a `SynthError`;
2. the suite runs twice in a Docker sandbox with the scenario image (`build_image(requirements)`); the
   tests that pass both times are the baseline. A suite that does not collect or where no test passes is a
   `SynthError`, and nothing is written;
3. candidates are the mutations of every non-test module (`prm.envs.swe.mutations`), shuffled by `seed`
   and interleaved by kind. Each one runs the suite in a fork of the pristine sandbox, at most `workers`
   (<= 2) at once. It is kept when at least one baseline test fails (fail_to_pass), no baseline test goes
   missing (an import broken by the mutation) and a second run of the graded tests gives the same
   statuses (with `validate_scenarios`, the validator's start-state run is that second run). A run that
   hits `max(min_timeout_s, timeout_factor * baseline)` is dropped, never kept;
4. a kept candidate becomes an ordinary scenario file `DIR/<package>-<kind>-<hash>.yaml`: the bug patch is
   the mutation's diff, pass_to_pass is at most `max_pass_to_pass` other baseline tests (those of the
   failing tests' files first), the problem statement is written from the failing tests' names and their
   assertion messages only (never the diff), and `difficulty` is `Difficulty.estimate(lines, broken)`;
   with `validate`, `prm scenario validate`'s checks must pass too or the file is removed.

A candidate whose check fails for a sandbox reason (`SandboxError`) is logged and left undecided.
Every verdict is recorded in `DIR/.synth-state.json` as it comes, so a second run resumes where the first
stopped; `DIR/manifest.json` holds the counts per mutation kind, the keep rates and validated scenarios per
hour (`SynthReport`).

Example:
    >>> from prm.envs.swe.synth import SynthConfig, synthesize
    >>> report = synthesize(SynthConfig(source="toolz==1.0.0", n=5, out="my_pack/toolz"))  # doctest: +SKIP
    >>> report.kept  # doctest: +SKIP
    5
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import queue
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from prm.envs.swe.grading import parse_statuses, pytest_command
from prm.envs.swe.mutations import OPERATORS, Mutation, mutations
from prm.envs.swe.repo import pristine_pypi
from prm.envs.swe.scenario import _PIN, _TEST_ID, Difficulty, RepoSource
from prm.errors import PrmError, SandboxError
from prm.sandboxes.base import Sandbox, SandboxLimits
from prm.sandboxes.images import build_image
from prm.sandboxes.select import open_sandbox
from prm.scenario import PACK_MANIFEST

log = logging.getLogger(__name__)
STATE_FILE = ".synth-state.json"
MANIFEST_FILE = PACK_MANIFEST
_SKIPPED_DIRS = {
    ".git",
    ".tox",
    ".venv",
    "build",
    "dist",
    "docs",
    "doc",
    "examples",
    "benchmarks",
    "__pycache__",
}
_BROKEN = ("failed", "error")


class SynthError(PrmError):
    """The package cannot seed scenarios (no tests, a failing suite, it does not build); nothing is written."""


class SynthConfig(BaseModel):
    """What `prm scenario synth` takes."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="'name==version' (an sdist from the package index) or a directory")
    n: int = Field(ge=1, description="scenarios to keep")
    out: Path = Field(description="folder for the scenario files, the state file and the manifest")
    kinds: list[str] = Field(default_factory=lambda: list(OPERATORS), min_length=1)
    seed: int = 0
    max_candidates: int | None = Field(default=None, ge=1, description="default: 10 * n")
    workers: int = Field(default=2, ge=1, le=2, description="candidates checked at once (2 cores)")
    max_pass_to_pass: int = Field(default=20, ge=0)
    max_fail_to_pass: int = Field(default=20, ge=1, description="failing tests listed (all count as broken)")
    min_timeout_s: float = Field(default=60.0, gt=0)
    timeout_factor: float = Field(default=3.0, ge=1.0, description="x the baseline suite's duration")
    requirements: list[str] = Field(default_factory=lambda: ["pytest==8.3.5"])
    validate_scenarios: bool = Field(default=True, description="run `prm scenario validate`'s checks on each")
    max_steps: int = Field(default=30, ge=1)

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str]) -> list[str]:
        unknown = sorted(set(kinds) - set(OPERATORS))
        if unknown:
            raise ValueError(f"unknown mutation kind {unknown[0]!r}; known: {', '.join(OPERATORS)}")
        return kinds

    @property
    def repo(self) -> RepoSource:
        if _PIN.match(self.source):
            return RepoSource(pypi=self.source)
        if Path(self.source).is_dir():
            return RepoSource(path=str(Path(self.source).resolve()))
        raise SynthError(f"{self.source}: neither an exact pin 'name==version' nor a directory")


@dataclass(frozen=True)
class Candidate:
    """One mutation of one module; `key` names it in the state file."""

    path: str
    mutation: Mutation

    @property
    def key(self) -> str:
        text = f"{self.path}\0{self.mutation.kind}\0{self.mutation.after}"
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass
class SynthReport:
    """The counts of one output folder (also its `manifest.json`)."""

    source: str
    baseline_tests: int
    kept: int
    tried: dict[str, int] = field(default_factory=dict)
    kept_by_kind: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def keep_rate(self) -> dict[str, float]:
        return {kind: self.kept_by_kind.get(kind, 0) / count for kind, count in self.tried.items() if count}

    @property
    def per_hour(self) -> float:
        return self.kept * 3600 / self.seconds if self.seconds else 0.0

    def manifest(self) -> dict:
        return {
            "source": self.source,
            "baseline_tests": self.baseline_tests,
            "scenarios": self.kept,
            "tried_by_kind": self.tried,
            "kept_by_kind": self.kept_by_kind,
            "keep_rate_by_kind": {kind: round(rate, 3) for kind, rate in self.keep_rate.items()},
            "dropped_by_reason": self.dropped,
            "seconds": round(self.seconds, 1),
            "validated_per_hour": round(self.per_hour, 1),
        }


class _ScenarioDumper(yaml.SafeDumper):
    """Writes multi-line strings (statements, patches) as `|` blocks, like hand-written scenario files."""


_ScenarioDumper.add_representer(
    str,
    lambda dumper, text: dumper.represent_scalar(
        "tag:yaml.org,2002:str", text, style="|" if "\n" in text else None
    ),
)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)


def _python_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(relative path, path) of the repository's `.py` files outside tooling folders; symbolic links are
    skipped (and no file under a linked folder is read), so nothing outside the repository is ever read."""
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        linked = any((root / Path(*rel.parts[:depth])).is_symlink() for depth in range(1, len(rel.parts) + 1))
        if not linked and path.is_file() and not _SKIPPED_DIRS & set(rel.parts[:-1]):
            yield rel.as_posix(), path


def find_test_files(root: Path) -> list[str]:
    """The repository's test modules (`test_*.py`, `*_test.py`), relative, sorted."""
    return sorted(
        rel
        for rel, path in _python_files(root)
        if path.name.startswith("test_") or path.name.endswith("_test.py")
    )


def find_source_files(root: Path, tests: list[str]) -> list[str]:
    """The modules a bug may be planted in: every other `.py` file but `setup.py`, `conftest.py` and those in
    test folders."""
    excluded = {*tests, "setup.py"}
    return sorted(
        rel
        for rel, path in _python_files(root)
        if rel not in excluded
        and path.name != "conftest.py"
        and not {"tests", "test", "testing"} & set(Path(rel).parts[:-1])
    )


def _passed_ids(output: str) -> set[str]:
    return {
        line.split(" ", 1)[1].strip()
        for line in output.splitlines()
        if line.startswith("PASSED ") and _TEST_ID.match(line.split(" ", 1)[1].strip())
    }


def _failure_reasons(output: str) -> dict[str, str]:
    """id -> the one-line reason pytest's `-rA` summary gives for each failed or erroring test."""
    reasons = {}
    for line in output.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("FAILED", "ERROR") and " - " in rest:
            test_id, _, reason = rest.partition(" - ")
            reasons[test_id.strip()] = reason.strip()
    return reasons


def problem_statement(package: str, broken: list[str], reasons: dict[str, str]) -> str:
    """A bug report from the failing tests' names and assertion messages (never from the patch).

    >>> print(problem_statement("calc", ["tests/test_calc.py::test_add"], {"tests/test_calc.py::test_add": "assert -1 == 5"}))
    calc: test_add fails
    <BLANKLINE>
    After a recent change, 1 test of the suite fails:
    <BLANKLINE>
    - `tests/test_calc.py::test_add`: assert -1 == 5
    <BLANKLINE>
    The tests describe the intended behaviour; fix the library code (not the tests) so that they pass again.
    """
    names = list(dict.fromkeys(test_id.rsplit("::", 1)[-1].split("[", 1)[0] for test_id in broken))
    title = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    lines = [
        f"{package}: {title} {'fails' if len(broken) == 1 else 'fail'}",
        "",
        f"After a recent change, {len(broken)} test{'s' if len(broken) > 1 else ''} of the suite "
        f"{'fails' if len(broken) == 1 else 'fail'}:",
        "",
    ]
    for test_id in broken[:5]:
        reason = reasons.get(test_id, "").replace("`", "'")
        reason = reason if len(reason) <= 240 else reason[:237] + "..."
        lines.append(f"- `{test_id}`" + (f": {reason}" if reason else ""))
    if len(broken) > 5:
        lines.append(f"- ... and {len(broken) - 5} more")
    lines += [
        "",
        "The tests describe the intended behaviour; fix the library code (not the tests) so that they pass again.",
    ]
    return "\n".join(lines)


def _unified_diff(path: str, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True), f"a/{path}", f"b/{path}"
        )
    )


def _changed_lines(diff: str) -> int:
    return sum(1 for line in diff.splitlines() if line[:1] in "+-" and not line.startswith(("+++ ", "--- ")))


class _State:
    """`DIR/.synth-state.json`: the baseline and every candidate's verdict, saved after each one (thread-safe);
    `DIR/manifest.json` is rewritten with it."""

    def __init__(self, out: Path, source: str):
        self.path = out / STATE_FILE
        self._lock = threading.Lock()
        self.data: dict = {"source": source, "baseline": None, "candidates": {}, "seconds": 0.0}
        if self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if data.get("source") != source:
                raise SynthError(
                    f"{out} holds the synthesis state of {data.get('source')!r}, not {source!r}; "
                    "use another --out folder"
                )
            self.data = data

    def record(self, key: str, verdict: dict, seconds: float = 0.0) -> None:
        with self._lock:
            self.data["candidates"][key] = verdict
            self.data["seconds"] += seconds
            self.save()

    def save(self) -> None:
        """Writes the state and, next to it, the manifest (so an interrupted run leaves both current)."""
        _write_atomic(self.path, json.dumps(self.data, indent=1, sort_keys=True))
        _write_atomic(self.path.with_name(MANIFEST_FILE), json.dumps(self.report().manifest(), indent=1))

    def report(self) -> SynthReport:
        verdicts = list(self.data["candidates"].values())
        kept = [v for v in verdicts if v["verdict"] == "kept"]
        return SynthReport(
            source=self.data["source"],
            baseline_tests=len((self.data["baseline"] or {}).get("passing", [])),
            kept=len(kept),
            tried=dict(Counter(v["kind"] for v in verdicts)),
            kept_by_kind=dict(Counter(v["kind"] for v in kept)),
            dropped=dict(Counter(v["verdict"] for v in verdicts if v["verdict"] != "kept")),
            seconds=self.data["seconds"],
        )


class _Synthesis:
    def __init__(self, config: SynthConfig):
        self.config = config
        self.repo = config.repo
        self.package = self.repo.name_version[0] if self.repo.pypi else Path(self.repo.path or "").name
        self.root = pristine_pypi(self.repo, config.source) if self.repo.pypi else Path(self.repo.path or "")
        self.tests = find_test_files(self.root)
        if not self.tests:
            raise SynthError(f"{config.source}: ships no tests (no test_*.py or *_test.py file)")
        self.image: str | None = None
        self.base: Sandbox | None = None
        self.workers: list[Sandbox] = []
        self._idle: queue.SimpleQueue[Sandbox] = queue.SimpleQueue()

    @contextmanager
    def _mutated(self, candidate: Candidate) -> Iterator[Sandbox]:
        """A worker sandbox (a fork of the pristine one, reused by later candidates) with the mutation written;
        the pristine file is written back afterwards. A worker whose restore fails is not reused."""
        try:
            sandbox = self._idle.get_nowait()
        except queue.Empty:
            sandbox = self.base.fork()
            self.workers.append(sandbox)
            sandbox.exec("find . -name __pycache__ -type d -prune -exec rm -rf {} +", timeout=120)
        sandbox.write_file(candidate.path, candidate.mutation.after)
        try:
            yield sandbox
        finally:
            sandbox.write_file(candidate.path, (self.root / candidate.path).read_bytes())
        self._idle.put(sandbox)

    def _run_suite(self, sandbox: Sandbox, timeout: float) -> tuple[str, bool, int]:
        """The whole suite; no bytecode is written, so a restored module never runs from a mutant's cache."""
        command = f"PYTHONDONTWRITEBYTECODE=1 COLUMNS=400 {pytest_command(self.tests)}"
        result = sandbox.exec(command, timeout=timeout)
        return result.stdout + result.stderr, result.timed_out, result.exit_code

    def baseline(self, state: _State) -> dict:
        """The tests that pass twice on the pristine repository; `SynthError` when there are none."""
        if state.data["baseline"] is not None:
            return state.data["baseline"]
        passing, seconds = None, 0.0
        for _ in range(2):
            started = time.monotonic()
            output, timed_out, exit_code = self._run_suite(self.base, timeout=1800)
            seconds = max(seconds, time.monotonic() - started)
            if timed_out:
                raise SynthError(f"{self.config.source}: the test suite did not finish within 30 minutes")
            passed = _passed_ids(output)
            if exit_code in (2, 3, 4) and not passed:
                errors = [line for line in output.splitlines() if line.startswith(("ERROR ", "E "))]
                tail = "\n".join(errors[-6:] or output.strip().splitlines()[-4:])
                raise SynthError(
                    f"{self.config.source}: does not build: the test suite does not collect "
                    f"(pytest exit code {exit_code}):\n{tail}"
                )
            if not passed:
                failing = len(_failure_reasons(output)) or "all"
                raise SynthError(
                    f"{self.config.source}: the test suite fails: no test passes ({failing} failing)"
                )
            passing = passed if passing is None else passing & passed
        state.data["baseline"] = {"passing": sorted(passing), "seconds": seconds}
        state.save()
        return state.data["baseline"]

    def candidates(self) -> list[Candidate]:
        """Every mutation of every source module, shuffled by seed and interleaved by kind."""
        by_kind: dict[str, list[Candidate]] = {kind: [] for kind in self.config.kinds}
        for rel in find_source_files(self.root, self.tests):
            text = (self.root / rel).read_text(encoding="utf-8", errors="replace")
            if not text.endswith("\n"):
                continue
            for mutation in mutations(text, self.config.kinds):
                by_kind[mutation.kind].append(Candidate(rel, mutation))
        rng = random.Random(self.config.seed)
        for group in by_kind.values():
            rng.shuffle(group)
        interleaved = [c for round_ in _zip_longest(list(by_kind.values())) for c in round_]
        return interleaved[: self.config.max_candidates or 10 * self.config.n]

    def check(self, candidate: Candidate, baseline: dict) -> dict:
        """The verdict on one candidate (`kept` with its scenario file, or why it was dropped)."""
        verdict = {"kind": candidate.mutation.kind, "path": candidate.path, "line": candidate.mutation.line}
        passing = baseline["passing"]
        timeout = max(self.config.min_timeout_s, self.config.timeout_factor * baseline["seconds"])
        with self._mutated(candidate) as sandbox:
            output, timed_out, _ = self._run_suite(sandbox, timeout)
            if timed_out:
                return verdict | {"verdict": "timeout"}
            statuses = parse_statuses(output, passing)
            if any(status == "missing" for status in statuses.values()):
                return verdict | {"verdict": "tests_missing"}
            broken = sorted(test_id for test_id, status in statuses.items() if status in _BROKEN)
            if not broken:
                return verdict | {"verdict": "no_test_fails"}
            fail_to_pass = broken[: self.config.max_fail_to_pass]
            pass_to_pass = self._pass_to_pass(broken, passing)
            if not self.config.validate_scenarios:  # else the validator's start-state run is the second run
                second = self._second_run(sandbox, fail_to_pass, pass_to_pass, timeout)
                if second is not None:
                    return verdict | {"verdict": second}
        path = self._write_scenario(candidate, broken, fail_to_pass, pass_to_pass, _failure_reasons(output))
        if self.config.validate_scenarios:
            from prm.envs.swe.validate import validate_scenario_file

            validation = validate_scenario_file(path, sandbox="docker", repeats=1)
            if not validation.ok:
                path.unlink()
                if validation.infra_error:
                    raise SandboxError(f"validating {path.name}: {validation.problem}")
                return verdict | {"verdict": "invalid", "problem": validation.problem[-500:]}
        return verdict | {"verdict": "kept", "scenario": path.name, "fail_to_pass": len(broken)}

    def _second_run(
        self, sandbox: Sandbox, fail_to_pass: list[str], pass_to_pass: list[str], timeout: float
    ) -> str | None:
        """None when the graded tests give the same verdicts again, else why not (`timeout`, `flaky`)."""
        again = sandbox.exec(
            f"PYTHONDONTWRITEBYTECODE=1 {pytest_command(fail_to_pass + pass_to_pass)}", timeout=timeout
        )
        if again.timed_out:
            return "timeout"
        statuses = parse_statuses(again.stdout + again.stderr, fail_to_pass + pass_to_pass)
        agree = all(statuses[t] in _BROKEN for t in fail_to_pass) and all(
            statuses[t] == "passed" for t in pass_to_pass
        )
        return None if agree else "flaky"

    def _pass_to_pass(self, broken: list[str], passing: list[str]) -> list[str]:
        files = {test_id.split("::", 1)[0] for test_id in broken}
        others = [test_id for test_id in passing if test_id not in set(broken)]
        same_file = [test_id for test_id in others if test_id.split("::", 1)[0] in files]
        rest = [test_id for test_id in others if test_id.split("::", 1)[0] not in files]
        return (same_file + rest)[: self.config.max_pass_to_pass]

    def _write_scenario(
        self,
        candidate: Candidate,
        broken: list[str],
        fail_to_pass: list[str],
        pass_to_pass: list[str],
        reasons: dict[str, str],
    ) -> Path:
        before = (self.root / candidate.path).read_text(encoding="utf-8")
        bug_patch = _unified_diff(candidate.path, before, candidate.mutation.after)
        scenario_id = f"{self.package.lower()}-{candidate.mutation.kind.replace('_', '-')}-{candidate.key}"
        out = self.config.out
        repo = (
            {"pypi": self.repo.pypi}
            if self.repo.pypi
            else {"path": os.path.relpath(self.repo.path or "", out.resolve())}
        )
        data = {
            "id": scenario_id,
            "repo": repo,
            "problem_statement": problem_statement(self.package, broken, reasons),
            "bug_patch": bug_patch,
            "tests": {"fail_to_pass": fail_to_pass, "pass_to_pass": pass_to_pass},
            "requirements": self.config.requirements,
            "difficulty": Difficulty.estimate(_changed_lines(bug_patch), len(broken)).model_dump(),
            "max_steps": self.config.max_steps,
        }
        path = out / f"{scenario_id}.yaml"
        _write_atomic(
            path, yaml.dump(data, Dumper=_ScenarioDumper, sort_keys=False, width=100, allow_unicode=True)
        )
        return path


def _zip_longest(groups: list[list[Candidate]]) -> Iterator[list[Candidate]]:
    for index in range(max((len(group) for group in groups), default=0)):
        yield [group[index] for group in groups if index < len(group)]


def synthesize(config: SynthConfig, on_progress: Callable[[SynthReport], None] | None = None) -> SynthReport:
    """Runs the synthesis of the module docstring; `SynthError` for a package that cannot seed scenarios.

    Resumes from `config.out`'s state file; `on_progress` gets the counts after every candidate."""
    notify = on_progress or (lambda _: None)
    started = time.monotonic()
    synthesis = _Synthesis(config)
    synthesis.image = build_image(requirements=config.requirements)
    config.out.mkdir(parents=True, exist_ok=True)
    fresh = not (config.out / STATE_FILE).exists()
    state = _State(config.out, config.source)
    try:
        synthesis.base = open_sandbox(
            "docker", image=synthesis.image, workspace_from=synthesis.root, limits=SandboxLimits()
        )
        try:
            baseline = synthesis.baseline(state)
        except SynthError:
            if fresh:  # nothing written for a package that cannot seed scenarios
                (config.out / STATE_FILE).unlink(missing_ok=True)
                if not any(config.out.iterdir()):
                    config.out.rmdir()
            raise
        pending = [c for c in synthesis.candidates() if c.key not in state.data["candidates"]]
        notify(state.report())
        in_flight: dict[Future, Candidate] = {}
        last = started
        with ThreadPoolExecutor(config.workers, thread_name_prefix="prm-synth") as pool:
            while pending or in_flight:
                while (
                    pending
                    and len(in_flight) < config.workers
                    and state.report().kept + len(in_flight) < config.n
                ):
                    candidate = pending.pop(0)
                    in_flight[pool.submit(synthesis.check, candidate, baseline)] = candidate
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    now = time.monotonic()  # wall time, so the rate counts the baseline and the parallelism
                    candidate = in_flight.pop(future)
                    try:
                        verdict = future.result()
                    except (
                        SandboxError
                    ) as err:  # the infrastructure failed, not the candidate: retried on resume
                        log.warning("candidate %s (%s) not decided: %s", candidate.key, candidate.path, err)
                        continue
                    state.record(candidate.key, verdict, seconds=now - last)
                    last = now
                    notify(state.report())
    finally:
        for sandbox in [*synthesis.workers, *([synthesis.base] if synthesis.base else [])]:
            sandbox.close()
    return state.report()


def pack_manifest(root: Path) -> dict:
    """The manifest of a synthesis output, or of a pack whose sub-folders are synthesis outputs: totals, per
    package and per mutation kind."""
    manifests = [root / MANIFEST_FILE, *sorted(root.glob(f"*/{MANIFEST_FILE}"))]
    packages = {
        path.parent.name: data
        for path in manifests
        if path.is_file() and "source" in (data := json.loads(path.read_text(encoding="utf-8")))
    }
    tried, kept = Counter(), Counter()
    for manifest in packages.values():
        tried.update(manifest["tried_by_kind"])
        kept.update(manifest["kept_by_kind"])
    seconds = sum(manifest["seconds"] for manifest in packages.values())
    total = sum(manifest["scenarios"] for manifest in packages.values())
    return {
        "scenarios": total,
        "packages": {name: manifest["scenarios"] for name, manifest in packages.items()},
        "kept_by_kind": dict(kept),
        "keep_rate_by_kind": {kind: round(kept[kind] / count, 3) for kind, count in tried.items() if count},
        "validated_per_hour": round(total * 3600 / seconds, 1) if seconds else 0.0,
        "by_package": packages,
    }
