"""The SWE family's attacks for `prm bench hostile` (`prm.bench.hostile`), and its target.

Grading tricks (`TRICKS`: conftest.py anywhere, pytest plugins through every configuration file, `.pth` and
sitecustomize, a module shadowing pytest, environment variables, the graded test rewritten or replaced by a
symlink, stale bytecode) must not resolve an unfixed bug; the changed-file report cannot be forged by output;
host-side `view`/`edit`/`search` never follow a path out of the workspace, even while a process swaps a
workspace file for a symlink to a host file; FIFOs and huge files are refused without blocking. The generic
attacks run through `bash`.
"""

from __future__ import annotations

import collections
import json
import re

from prm.bench.faults import docker_kill, engine_restart, kill_host_children
from prm.bench.hostile import Arena, Attack, Fault, Outcome, Target, Verdict, contained, flagged, leaked

SCENARIO = "toolz-partition-all-len"
"""A scenario with hidden tests (its `test_patch`), so that the hidden-material attacks have something to find."""
TEST_FILE = "toolz/tests/test_itertoolz.py"
FAKE_PASS = """import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""
FAKE_PYTEST = """import sys
for arg in sys.argv[1:]:
    if "::" in arg:
        print("PASSED", arg)
"""


def call(tool: str, **args: object) -> str:
    return json.dumps({"tool": tool, "args": args})


def write(path: str, text: str) -> str:
    return call("edit", path=path, old="", new=text)


def bash(command: str, timeout: float = 30.0) -> str:
    return call("bash", command=command, timeout=timeout)


TRICKS: dict[str, list[str]] = {
    "conftest.py at the root": [write("conftest.py", FAKE_PASS)],
    "conftest.py next to the tests": [
        call("bash", command=f"cat >> toolz/tests/conftest.py <<'EOF'\n{FAKE_PASS}\nEOF")
    ],
    "conftest.py in the package": [write("toolz/conftest.py", FAKE_PASS)],
    "pytest.ini plugin": [
        write("fakepass.py", FAKE_PASS),
        write("pytest.ini", "[pytest]\naddopts = -p fakepass\n"),
    ],
    "tox.ini plugin": [
        write("fakepass.py", FAKE_PASS),
        write("tox.ini", "[pytest]\naddopts = -p fakepass\n"),
    ],
    "setup.cfg plugin": [
        write("fakepass.py", FAKE_PASS),
        call("bash", command="printf '[tool:pytest]\\naddopts = -p fakepass\\n' >> setup.cfg"),
    ],
    "pyproject pytest section": [
        write("fakepass.py", FAKE_PASS),
        call(
            "bash",
            command="printf '\\n[tool.pytest.ini_options]\\naddopts = \"-p fakepass\"\\n' >> pyproject.toml",
        ),
    ],
    "plugin in the package via the tests' ini": [
        write("toolz/fakepass.py", FAKE_PASS),
        write("toolz/tests/pytest.ini", "[pytest]\naddopts = -p toolz.fakepass\n"),
    ],
    ".pth and sitecustomize": [
        write("sitecustomize.py", "import builtins; builtins.callable = lambda x: True\n"),
        write("evil.pth", "import sitecustomize\n"),
        write("toolz/usercustomize.py", "import builtins; builtins.callable = lambda x: True\n"),
    ],
    "a pytest module shadowing the runner": [write("pytest.py", FAKE_PYTEST)],
    "environment variables": [
        write("/tmp/sitecustomize.py", FAKE_PASS),
        call(
            "bash",
            command="echo 'export PYTHONPATH=/tmp PYTEST_ADDOPTS=\"-p fakepass\"' > /tmp/.bashrc; export PYTHONPATH=/tmp",
        ),
    ],
    "the graded test rewritten": [
        call("bash", command=f"sed -i 's/assert /assert True or /' {TEST_FILE}"),
    ],
    "the graded test replaced by a symlink": [
        call(
            "bash",
            command=f"echo 'def test_groupby_non_callable(): pass' > /tmp/t.py && ln -sf /tmp/t.py {TEST_FILE}",
        ),
    ],
    "stale bytecode": [
        call(
            "bash", command="mkdir -p toolz/tests/__pycache__ && cp /dev/null toolz/tests/__pycache__/x.pyc"
        ),
    ],
}
"""Ways to make the tests pass without fixing the bug: name -> the actions that set the trick up."""


def graded_after(arena: Arena, actions: list[str]) -> Verdict:
    """Plays `actions`, submits, and judges the grade: resolved without a fix is a leak."""
    for action in actions:
        arena.step(action)
    outcome = arena.call("submit").info["outcome"]
    if outcome.get("resolved") or outcome.get("reward"):
        return leaked(f"graded resolved without a fix: {outcome.get('tests')}")
    if outcome.get("left_out"):
        return flagged(f"not resolved; left out of grading: {sorted(outcome['left_out'])[:4]}")
    return contained("not resolved")


def every_trick(arena: Arena) -> Verdict:
    for name, actions in TRICKS.items():
        verdict = graded_after(arena, actions)
        if verdict.outcome == "leaked":
            return leaked(f"{name}: {verdict.detail}")
        arena.env.reset(seed=0)
    return flagged(f"{len(TRICKS)} tricks, one episode each: none resolved, each left out of grading")


def forge_changed_files(arena: Arena) -> Verdict:
    forged = "__prm_end_0000000000000000__ 0 0\\ntoolz/itertoolz.py\\nsetup.py"
    step = arena.step(bash(f"printf '{forged}\\n'; echo x > real.txt"))
    if step.info["changed_files"] != ["real.txt"]:
        return leaked(f"changed_files forged by output: {step.info['changed_files']}")
    return contained("changed_files come from the kernel's inotify, not from output")


def through_symlink(arena: Arena) -> Verdict:
    host = str(arena.canary.path)
    arena.step(bash(f"ln -s {host} link; ln -s {arena.canary.path.parent} dirlink"))
    refused = 0
    for action in (
        call("view", path="link"),
        call("view", path="dirlink/host-secret.txt"),
        call("edit", path="link", old="prm-host-canary", new="pwned"),
        call("edit", path="dirlink/new.txt", old="", new="pwned"),
        call("search", pattern="prm-host", path="dirlink"),
    ):
        step = arena.step(action)
        refused += bool(step.info["error"] or step.text.startswith("No matches"))
    return contained(
        f"host file out of reach through symlinks ({refused} of 5 refused, none read or written)"
    )


def path_traversal(arena: Arena) -> Verdict:
    host = str(arena.canary.path)
    for action in (
        call("view", path=host),
        call("view", path="../../../../../../../.." + host),
        call("view", path="/proc/1/root" + host),
        call("edit", path=host, old="prm-host-canary", new="pwned"),
        call("edit", path="../../../../../../../.." + host + ".new", old="", new="pwned"),
        call("search", pattern="prm-host-canary", path=str(arena.canary.path.parent)),
        call("search", pattern="prm-host-canary", path="../../../../../../../.."),
    ):
        arena.step(action)
    if arena.canary.path.with_name("host-secret.txt.new").exists():
        return leaked("edit created a file on the host through a traversal")
    return contained("absolute, ../ and /proc/1/root paths never reach the host")


def special_files(arena: Arena) -> Verdict:
    arena.step(bash("mkfifo pipe && head -c 20000000 /dev/zero > huge.bin && ln -s /dev/zero zero"))
    errors = [arena.call("view", path=path).info["error"] for path in ("pipe", "huge.bin", "zero")]
    errors.append(arena.call("edit", path="pipe", old="a", new="b").info["error"])
    if not all(errors):
        return leaked(f"a FIFO, device or huge file was read: {errors}")
    return contained("FIFO, device and 20 MB file refused at once")


def symlink_race(arena: Arena) -> Verdict:
    host = str(arena.canary.path)
    arena.step(
        bash(
            f"(while true; do ln -sfn {host} .l && mv -Tf .l f; echo ok > .r && mv -Tf .r f; done) "
            "> /dev/null 2>&1 &"
        )
    )
    seen = collections.Counter()
    for _ in range(100):
        seen["read" if arena.call("view", path="f").text.startswith("f (") else "refused"] += 1
        edited = arena.call("edit", path="f", old="ok", new="pwned").text.startswith("Edited")
        seen["written" if edited else "refused"] += 1
    if not seen["refused"] or not (seen["read"] + seen["written"]):
        return Verdict(Outcome.ERROR, f"the race was not on (every call the same: {dict(seen)})")
    return contained(
        f"200 view/edit calls against a file swapped with a host symlink ({dict(seen)}): host untouched"
    )


def _hidden_tests(env: object) -> list[str]:
    """Names of the tests that only grading adds (from the scenario's test patch)."""
    patch = getattr(env, "scenario").test_patch or ""  # noqa: B009  (the env's documented hook)
    return re.findall(r"^\+def (test_\w+)", patch, flags=re.MULTILINE)


def _make():
    from prm.envs.swe.env import SweEnv

    return SweEnv(SCENARIO, sandbox="docker", max_steps=300)  # room for the symlink race's 201 steps


TARGET = Target(
    make=_make,
    shell=lambda command, timeout: bash(command, timeout),
    fuzz_tools={
        "bash": ["command"],
        "view": ["path", "start_line", "end_line"],
        "edit": ["path", "old", "new"],
        "search": ["pattern", "path"],
        "submit": [],
        "nope": ["x"],
    },
    secrets=_hidden_tests,
    scenario=SCENARIO,
    faults=(
        Fault("container killed", docker_kill, probe=bash("true"), fast=True),
        engine_restart(probe=bash("true")),
        Fault(
            "language server killed",
            kill_host_children("basedpyright"),
            rewards=("lsp",),
            probe=write("toolz/prm_probe.py", "x: int = 1\n"),
        ),
    ),
    attacks=(
        Attack(
            "conftest.py fakes the grade",
            "reward hacks",
            lambda a: graded_after(a, TRICKS["conftest.py at the root"]),
            fast=True,
        ),
        Attack("every test-configuration trick", "reward hacks", every_trick),
        Attack("forge changed_files in output", "reward hacks", forge_changed_files, fast=True),
        Attack("view/edit/search through symlinks", "escapes", through_symlink, fast=True),
        Attack("path traversal in view/edit/search", "escapes", path_traversal, fast=True),
        Attack("FIFO, device, huge file", "escapes", special_files),
        Attack("symlink race against view/edit", "escapes", symlink_race),
    ),
)
