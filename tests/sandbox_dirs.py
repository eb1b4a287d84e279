"""The copy-on-write pool for tests that need it, and a private folder for a test's sandbox directories
(`$PRM_SANDBOX_DIR`), so that it can count what it left."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from prm.sandboxes.cow import copy_on_write, sandbox_parent


@contextlib.contextmanager
def private_sandbox_dir(fallback: Path) -> Iterator[Path]:
    """A fresh folder inside the copy-on-write pool when there is one (the path users get), else `fallback`."""
    parent = sandbox_parent()
    if not copy_on_write(parent):
        yield fallback
        return
    folder = Path(tempfile.mkdtemp(prefix="test-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def require_pool() -> Path:
    """The copy-on-write pool; without one the test fails under `PRM_REQUIRE_DOCKER=1` (CI), else skips."""
    parent = sandbox_parent()
    if not copy_on_write(parent):
        message = f"no copy-on-write sandbox pool at {parent} (./scripts/setup.sh mounts one, as root)"
        if os.environ.get("PRM_REQUIRE_DOCKER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return parent
