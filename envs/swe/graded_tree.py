"""The tree that is graded, built the way SWE-bench's harness builds it: nothing the agent wrote decides how
tests run.

`graded_tree(start, agent_diff, grading_files, dest)` copies the pristine start tree (host-side, trusted),
applies the agent's change to the repository's *source* (a `WorkspaceDiff`, read from the agent's workspace
without following any symlink), and then writes the hidden grading files. From the agent's change it drops:

- test files: `conftest.py` anywhere, `test_*.py` and `*_test.py`, and anything under a `test`, `tests` or
  `testing` directory (they stay as in the start tree, then the hidden tests are added);
- test configuration and interpreter hooks: `pytest.ini`, `.pytest.ini`, `tox.ini`, `setup.cfg`,
  `pyproject.toml`, `*.pth`, `sitecustomize.py`, `usercustomize.py`;
- bytecode (`__pycache__`, `*.pyc`) and `.git`;
- new files outside the pristine tree's Python packages (e.g. a `pytest.py` or `_pytest/` at the root that
  would shadow the test runner, or a plugin module next to it): new source files are taken only inside a
  directory that is a package (`__init__.py`) in the start tree.

Environment variables cannot travel: grading runs in a fresh sandbox with the image's environment.

Example:
    >>> classify("pkg/tests/test_x.py"), classify("pkg/conftest.py"), classify("setup.cfg"), classify("pkg/m.py")
    ('test file', 'test file', 'test configuration', None)
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from prm.sandboxes.workspace import WorkspaceDiff, copy_tree

SKIPPED_DIRS = frozenset({".git", "__pycache__", ".pytest_cache"})
TEST_DIRS = frozenset({"test", "tests", "testing"})
CONFIG_FILES = frozenset(
    {
        "pytest.ini",
        ".pytest.ini",
        "tox.ini",
        "setup.cfg",
        "pyproject.toml",
        "sitecustomize.py",
        "usercustomize.py",
    }
)


def classify(path: str) -> str | None:
    """Why the agent's version of `path` is not graded ('test file', ...), or None when it is source."""
    parts = PurePosixPath(path).parts
    name = parts[-1]
    if SKIPPED_DIRS.intersection(parts) or name.endswith((".pyc", ".pyo")):
        return "bytecode or repository metadata"
    if name == "conftest.py" or TEST_DIRS.intersection(parts[:-1]):
        return "test file"
    if name.startswith("test_") and name.endswith(".py") or name.endswith("_test.py"):
        return "test file"
    if name in CONFIG_FILES or name.endswith(".pth"):
        return "test configuration"
    return None


def _inside_start_package(start: Path, path: str) -> bool:
    parents = list(PurePosixPath(path).parents)[:-1]  # without "."
    return any((start / parent / "__init__.py").is_file() for parent in parents)


def graded_tree(
    start: Path, agent_diff: WorkspaceDiff, grading_files: dict[str, str | None], dest: Path
) -> dict[str, str]:
    """Fill the empty directory `dest` with the tree to grade; returns the agent's paths left out and why."""
    copy_tree(start, dest)
    left_out: dict[str, str] = {}
    for path, data in agent_diff.changed.items():
        reason = classify(path)
        if reason is None and not (start / path).is_file() and not _inside_start_package(start, path):
            reason = "new file outside the repository's packages"
        if reason is not None:
            left_out[path] = reason
            continue
        target = dest / path
        if target.is_symlink() or (target.exists() and not target.is_file()):
            left_out[path] = "replaces a directory or link of the start tree"
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for path in agent_diff.removed:
        if (reason := classify(path)) is not None:
            left_out[path] = reason
        elif (dest / path).is_file():
            os.unlink(dest / path)
    for path, text in grading_files.items():
        target = dest / path
        if text is None:
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    return left_out
