"""Prepare a scenario's repository on the host: fetch the sdist, apply the bug, compute the hidden files.

Everything is cached under `$PRM_CACHE_DIR` (default `~/.cache/prm-gym`), in `swe/`:

- `sdists/<name>-<version>/`: the source distribution, fetched once with
  `pip download --no-deps --no-binary :all: name==version` (the machine's own pip configuration);
- `src/<name>-<version>/`: the sdist extracted (the pristine repository);
- `workspaces/<hash>/`: pristine source + `bug_patch`, without bytecode, then `git init` and one commit, so
  that in the sandbox `git diff` shows only the agent's changes and the history holds nothing of the fix;
  every file gets the same mtime, so timestamps do not point at the patched files. This directory seeds
  every episode's sandbox. The hash covers the recipe, the source and the bug patch.

Every cache entry is built in a temporary sibling and renamed into place, so concurrent envs are safe.

Hidden material stays on the host, in memory (`PreparedRepo.gold_files`, `PreparedRepo.grading_files`): the
content of every file the gold patch changes after the fix, and the test files graded (start state plus
`test_patch`), which are written only into the grading fork. Test ids are checked against the grading files:
the file must exist and every name in the id must occur in it.

Example:
    >>> from prm.envs.swe.scenario import load_swe_scenario
    >>> repo = prepare(load_swe_scenario("toolz-groupby-key"))  # doctest: +SKIP
    >>> sorted(repo.gold_files)  # doctest: +SKIP
    ['toolz/itertoolz.py']
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from prm.envs.swe.patches import PatchDoesNotApply, apply_patch, patch_paths
from prm.envs.swe.scenario import RepoSource, SweScenario
from prm.errors import ScenarioError
from prm.paths import cache_dir

_IGNORED = shutil.ignore_patterns(".git", "__pycache__", "*.pyc", "*.pyo", ".pytest_cache")
_START_TIME = 946684800  # 2000-01-01T00:00:00Z: every file of a start workspace has this mtime
_WORKSPACE_RECIPE = "v2: bug applied, bytecode dropped, git baseline, uniform mtimes"
_GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "prm-gym",
    "GIT_AUTHOR_EMAIL": "prm-gym@localhost",
    "GIT_COMMITTER_NAME": "prm-gym",
    "GIT_COMMITTER_EMAIL": "prm-gym@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00Z",
}


@dataclass(frozen=True)
class PreparedRepo:
    """A scenario's repository, ready to seed sandboxes.

    Attributes:
        workspace: host folder holding the start state (bug applied, git baseline); copied into sandboxes.
        start_files: content at the start of every file the gold patch touches (None: absent).
        gold_files: the same files after the gold patch (None: deleted). Hidden material.
        grading_files: the graded test files (start state plus test_patch), written into the grading fork
            over whatever the agent left there. Hidden material.
    """

    workspace: Path
    start_files: dict[str, str | None]
    gold_files: dict[str, str | None]
    grading_files: dict[str, str | None]


def _publish(tmp: Path, target: Path) -> None:
    """Moves a finished cache entry into place; when a concurrent builder won, keeps theirs."""
    try:
        tmp.rename(target)
    except OSError:
        if not target.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)


def _download_sdist(spec: str, source: Path | str, dest: Path) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--dest",
        str(dest),
        spec,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    archives = [p for p in dest.iterdir() if p.name.endswith((".tar.gz", ".tgz", ".zip", ".tar.bz2"))]
    if proc.returncode != 0 or not archives:
        errors = [line.strip() for line in proc.stderr.splitlines() if "ERROR" in line] or [
            proc.stderr[-300:]
        ]
        raise ScenarioError(
            source, "repo.pypi", f"the package index has no source distribution for {spec}: {errors[-1]}"
        )
    return archives[0]


def _extract(archive: Path, into: Path) -> Path:
    """Extracts an sdist and returns its top-level folder."""
    if archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(into)
    else:
        with tarfile.open(archive) as tf:
            tf.extractall(into, filter="data")
    entries = list(into.iterdir())
    return entries[0] if len(entries) == 1 and entries[0].is_dir() else into


def pristine_pypi(repo: RepoSource, source: Path | str = "<memory>") -> Path:
    """The extracted sdist of `repo.pypi` (downloaded and extracted once, cached); `ScenarioError` naming
    `source` when the index has no source distribution for it."""
    name, version = repo.name_version
    target = cache_dir("swe") / "src" / f"{name.lower()}-{version}"
    if target.is_dir():
        return target
    sdists = cache_dir("swe") / "sdists" / f"{name.lower()}-{version}"
    archive = next(iter(sorted(sdists.glob("*"))), None) if sdists.is_dir() else None
    if archive is None:
        tmp = Path(tempfile.mkdtemp(dir=cache_dir("swe"), prefix=".sdist-"))
        try:
            _download_sdist(repo.pypi, source, tmp)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        sdists.parent.mkdir(parents=True, exist_ok=True)
        _publish(tmp, sdists)
        archive = next(iter(sorted(sdists.glob("*"))))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
    try:
        top = _extract(archive, tmp)
        staged = Path(tempfile.mkdtemp(dir=target.parent, prefix=".src-"))
        staged.rmdir()
        top.rename(staged)
        _publish(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _pristine_path(scenario: SweScenario) -> Path:
    path = Path(scenario.repo.path or "")
    if not path.is_absolute():
        path = scenario.source.parent / path
    if not path.is_dir():
        raise ScenarioError(scenario.source, "repo.path", f"{path} is not a directory")
    return path


def _tree_hash(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".git" not in p.relative_to(root).parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _apply(scenario: SweScenario, root: Path, field: str, patch: str, reverse: bool = False) -> None:
    try:
        apply_patch(root, patch, reverse=reverse)
    except PatchDoesNotApply as err:
        what = "reversed bug_patch (the default gold_patch)" if reverse else "patch"
        raise ScenarioError(
            scenario.source, field, f"the {what} does not apply to the repository: {err}"
        ) from err


def _git_baseline(root: Path) -> None:
    env = {**os.environ, **_GIT_IDENTITY, "GIT_CEILING_DIRECTORIES": str(root.parent)}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "--no-verify", "-m", "start"]):
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, env=env, timeout=120)
        if proc.returncode != 0:
            raise OSError(f"git {args[0]} in {root} failed: {proc.stderr.strip()}")


def _uniform_mtimes(root: Path) -> None:
    """Gives every entry the same timestamp, so `ls -t` or `find -newer` cannot point at the patched files."""
    for path in [root, *root.rglob("*")]:
        os.utime(path, (_START_TIME, _START_TIME), follow_symlinks=False)


def _start_workspace(scenario: SweScenario, pristine: Path, source_key: str) -> Path:
    recipe = f"{_WORKSPACE_RECIPE}\0{source_key}\0{scenario.bug_patch}"
    key = hashlib.sha256(recipe.encode()).hexdigest()[:16]
    target = cache_dir("swe") / "workspaces" / key
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".ws-"))
    try:
        shutil.copytree(pristine, tmp, ignore=_IGNORED, dirs_exist_ok=True, symlinks=True)
        _apply(scenario, tmp, "bug_patch", scenario.bug_patch)
        _git_baseline(tmp)
        _uniform_mtimes(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _publish(tmp, target)
    return target


def _read(root: Path, rel: str) -> str | None:
    path = root / rel
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _patched_copy(
    scenario: SweScenario, workspace: Path, field: str, patch: str, reverse: bool, into: Path
) -> Path:
    shutil.copytree(workspace, into, ignore=_IGNORED, symlinks=True)
    _apply(scenario, into, field, patch, reverse)
    return into


def _check_test_ids(scenario: SweScenario, grading_files: dict[str, str | None]) -> None:
    for field in ("fail_to_pass", "pass_to_pass"):
        for test_id in getattr(scenario.tests, field):
            file, *names = test_id.split("::")
            text = grading_files.get(file)
            if text is None:
                raise ScenarioError(
                    scenario.source,
                    f"tests.{field}",
                    f"unknown test id {test_id!r}: no file {file} in the repository",
                )
            for name in names:
                base = name.split("[", 1)[0]
                if not re.search(rf"\b{re.escape(base)}\b", text):
                    raise ScenarioError(
                        scenario.source,
                        f"tests.{field}",
                        f"unknown test id {test_id!r}: {base!r} does not occur in {file}",
                    )


def prepare(scenario: SweScenario) -> PreparedRepo:
    """Fetches (cached), applies the bug (cached) and computes the hidden files; `ScenarioError` on bad input."""
    if scenario.repo.pypi is not None:
        pristine, source_key = pristine_pypi(scenario.repo, scenario.source), scenario.repo.pypi
    else:
        pristine = _pristine_path(scenario)
        source_key = _tree_hash(pristine)
    workspace = _start_workspace(scenario, pristine, source_key)
    gold_patch, reverse = (scenario.gold_patch, False) if scenario.gold_patch else (scenario.bug_patch, True)
    test_ids_files = [test_id.split("::", 1)[0] for test_id in scenario.tests.all]
    with tempfile.TemporaryDirectory(prefix="prm-swe-") as tmp:
        gold = _patched_copy(scenario, workspace, "gold_patch", gold_patch, reverse, Path(tmp) / "gold")
        changed = patch_paths(gold_patch)
        grading = Path(tmp) / "grading"
        if scenario.test_patch:
            _patched_copy(scenario, workspace, "test_patch", scenario.test_patch, False, grading)
            graded = dict.fromkeys([*patch_paths(scenario.test_patch), *test_ids_files])
        else:
            grading, graded = workspace, dict.fromkeys(test_ids_files)
        prepared = PreparedRepo(
            workspace=workspace,
            start_files={path: _read(workspace, path) for path in changed},
            gold_files={path: _read(gold, path) for path in changed},
            grading_files={path: _read(grading, path) for path in graded},
        )
    _check_test_ids(scenario, prepared.grading_files)
    return prepared
