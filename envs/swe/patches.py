"""Unified diffs on host directories, through `git apply` (strict: no fuzz, so a stale patch is an error).

`git apply` works outside a repository; `GIT_CEILING_DIRECTORIES` stops it from finding an enclosing one
(it would otherwise take paths relative to that repository's top). Needs `git` on the host.

Example:
    >>> import pathlib, tempfile
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "f.txt").write_text("x\\ny\\n")
    >>> diff = "--- a/f.txt\\n+++ b/f.txt\\n@@ -1,2 +1,2 @@\\n x\\n-y\\n+z\\n"
    >>> patch_paths(diff)
    ['f.txt']
    >>> apply_patch(root, diff); (root / "f.txt").read_text()
    'x\\nz\\n'
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from prm.errors import PrmError


class PatchDoesNotApply(PrmError):
    """A diff does not apply to a tree; the message is git's reason (which file, which line)."""


def _git(args: list[str], cwd: Path, stdin: str) -> subprocess.CompletedProcess:
    if shutil.which("git") is None:
        raise PrmError("applying scenario patches needs `git` on the host (apt-get install git)")
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(Path(cwd).resolve().parent)}
    text = stdin if stdin.endswith("\n") else stdin + "\n"
    return subprocess.run(
        ["git", *args], cwd=cwd, input=text, capture_output=True, text=True, env=env, timeout=120
    )


def apply_patch(root: str | Path, patch: str, *, reverse: bool = False) -> None:
    """Applies `patch` (paths `a/...`, `b/...`) to the tree at `root`; `PatchDoesNotApply` says why not."""
    args = ["apply", "--whitespace=nowarn", *(["--reverse"] if reverse else []), "-"]
    proc = _git(args, Path(root), patch)
    if proc.returncode != 0:
        reason = " ".join(line.strip() for line in proc.stderr.strip().splitlines()[-4:])
        raise PatchDoesNotApply(reason or f"git apply exited with {proc.returncode}")


def patch_paths(patch: str) -> list[str]:
    """The files a patch touches (both paths of a rename), in order; `PatchDoesNotApply` if it is unreadable."""
    proc = _git(["apply", "--numstat", "-z", "-"], Path("/"), patch)
    if proc.returncode != 0:
        raise PatchDoesNotApply(proc.stderr.strip() or "git apply could not read the patch")
    fields = [field for field in proc.stdout.split("\0") if field]
    # -z: "added\tdeleted\tpath" per file; for renames "added\tdeleted\t" then the old and the new path.
    paths, i = [], 0
    while i < len(fields):
        added_deleted_path = fields[i].split("\t")
        if added_deleted_path[2]:
            paths.append(added_deleted_path[2])
            i += 1
        else:
            paths += [fields[i + 1], fields[i + 2]]
            i += 3
    return paths
