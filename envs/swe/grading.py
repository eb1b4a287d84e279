"""Run pytest node ids in a sandbox and read one status per id from pytest's `-rA` summary.

Statuses: `passed`, `failed`, `error` (setup/teardown error), `xfailed`, `xpassed`, `timeout` (the run hit
its time limit), `killed` (the run killed its sandbox, e.g. out of memory), `missing` (pytest did not report
the id: no such test, a collection error, a skip). Only `passed` counts as passing (SWE-bench's rule).

Whatever the code under test does (a syntax error, a crash or an endless loop at import, a fork bomb, output
floods, killing every process it can, exhausting the sandbox's memory) is a status of its tests, never an
infrastructure failure: only a sandbox that fails on its own (or has no pytest at all) raises `SandboxError`.

Example:
    >>> parse_statuses("PASSED t.py::a\\nFAILED t.py::b - assert 0\\n", ["t.py::a", "t.py::b", "t.py::c"])
    {'t.py::a': 'passed', 't.py::b': 'failed', 't.py::c': 'missing'}
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from prm.errors import SandboxError, SandboxKilledFromInside
from prm.sandboxes.base import Sandbox

PYTEST_TIMEOUT_S = 300.0
_SUMMARY = {"PASSED": "passed", "FAILED": "failed", "ERROR": "error", "XFAIL": "xfailed", "XPASS": "xpassed"}


@dataclass(frozen=True)
class TestRun:
    """One pytest run: a status per requested id, pytest's exit code, and its output (for diagnostics)."""

    __test__ = False  # not a pytest test class
    statuses: dict[str, str]
    exit_code: int
    output: str

    @property
    def not_found(self) -> list[str]:
        """Ids pytest reported as not found (`ERROR: not found: ...`)."""
        return re.findall(r"not found: (?:/workspace/)?(\S+)", self.output)


def pytest_command(test_ids: list[str]) -> str:
    """The command line: plain pytest from the repository root, no cache, a `-rA` summary with every id."""
    ids = " ".join(shlex.quote(test_id) for test_id in dict.fromkeys(test_ids))
    return f"python3 -m pytest -rA --tb=short --color=no -p no:cacheprovider {ids}"


def parse_statuses(output: str, test_ids: list[str]) -> dict[str, str]:
    """A status per id from the `-rA` summary lines (`PASSED id`, `FAILED id - reason`, ...)."""
    statuses = dict.fromkeys(test_ids, "missing")
    for line in output.splitlines():
        word, _, rest = line.rstrip().partition(" ")
        if word not in _SUMMARY:
            continue
        for test_id in test_ids:  # match whole ids: parametrized ids may contain " - " themselves
            if statuses[test_id] == "missing" and (rest == test_id or rest.startswith(f"{test_id} - ")):
                statuses[test_id] = _SUMMARY[word]
    return statuses


_NO_PYTEST = re.compile(r"\S*python\S*: No module named pytest\s*")


def _pytest_missing(exit_code: int, output: str) -> bool:
    """True when the interpreter could not find pytest at all: its one-line message is the whole output.

    Nothing of the agent runs before pytest is found, so the agent's code cannot produce this output; a
    mere mention of the message (printed or raised by the agent's code) is its failure, not the sandbox's.

    >>> _pytest_missing(1, "/usr/bin/python3: No module named pytest\\n")
    True
    >>> _pytest_missing(1, "ImportError: No module named pytest\\n== 1 error in 0.1s ==\\n")
    False
    """
    return exit_code == 1 and _NO_PYTEST.fullmatch(output) is not None


def run_tests(sandbox: Sandbox, test_ids: list[str], timeout: float = PYTEST_TIMEOUT_S) -> TestRun:
    """Runs `test_ids` with pytest in `sandbox`; `SandboxError` when the sandbox fails or has no pytest."""
    try:
        result = sandbox.exec(pytest_command(test_ids), timeout=timeout)
    except SandboxKilledFromInside as err:  # the code under test killed the sandbox: its tests' failure
        return TestRun(dict.fromkeys(test_ids, "killed"), 137, str(err))
    output = result.stdout + result.stderr
    if _pytest_missing(result.exit_code, output):  # the environment is broken, not the agent's code
        raise SandboxError(
            f"pytest is not installed where the sandbox runs commands: {output.strip()[-300:]}"
        )
    if result.timed_out:
        return TestRun(dict.fromkeys(test_ids, "timeout"), result.exit_code, output)
    return TestRun(parse_statuses(output, test_ids), result.exit_code, output)
