"""Scenario files: find them (by id in the packaged pack, or by path) and load them into a family's model.

A bad file raises `ScenarioError` naming the file, the field and the reason:

>>> import tempfile, pathlib
>>> from prm.models import ScenarioBase
>>> bad = pathlib.Path(tempfile.mkdtemp()) / "bad.yaml"
>>> _ = bad.write_text("id: x\\nmax_steps: -1\\n")
>>> load_scenario(bad, ScenarioBase)
Traceback (most recent call last):
...
prm.errors.ScenarioError: .../bad.yaml: field 'max_steps': Input should be greater than or equal to 1
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from prm.errors import ScenarioError

M = TypeVar("M", bound=BaseModel)
SCENARIO_SUFFIXES = (".yaml", ".yml", ".json")


def packaged_scenarios(family: str) -> Path:
    """The folder of the scenario pack that ships with prm-gym for `family` (e.g. 'swe')."""
    return Path(str(resources.files("prm.scenarios"))) / family


PACK_MANIFEST = "manifest.json"
"""A pack's (or a generator's) summary file; neither it nor hidden files (`.name`) are scenarios."""


def scenario_files(ref: str | Path) -> list[Path]:
    """The scenario files a path names: the file itself, or every scenario file under a directory, sorted."""
    path = Path(ref)
    if path.is_dir():
        return sorted(
            p
            for p in path.rglob("*")
            if p.suffix in SCENARIO_SUFFIXES
            and p.is_file()
            and p.name != PACK_MANIFEST
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    return [path]


def resolve_scenario(family: str, ref: str | Path) -> Path:
    """A scenario reference is a path to a file, or the id (file stem) of a scenario in the packaged pack."""
    path = Path(ref)
    if path.is_file():
        return path
    pack = packaged_scenarios(family)
    for suffix in SCENARIO_SUFFIXES:
        candidate = pack / f"{ref}{suffix}"
        if candidate.is_file():
            return candidate
    known = sorted(p.stem for p in scenario_files(pack)) if pack.is_dir() else []
    hint = f" Known ids: {', '.join(known[:20])}{' ...' if len(known) > 20 else ''}." if known else ""
    raise ScenarioError(
        str(ref), "id", f"no scenario file at this path and no '{family}' scenario with this id.{hint}"
    )


def _field_of(error: dict) -> str:
    return ".".join(str(part) for part in error["loc"]) or "<root>"


def text_line_of(data: bytes, offset: int) -> int:
    """The 1-based line number of byte `offset` in `data`."""
    return data.count(b"\n", 0, offset) + 1


def load_scenario(path: str | Path, model: type[M]) -> M:
    """Parses a YAML or JSON scenario file into `model`; every failure is a `ScenarioError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(str(path), "<file>", f"cannot read: {err.strerror or err}") from err
    except UnicodeDecodeError as err:
        line = text_line_of(path.read_bytes(), err.start)
        raise ScenarioError(
            str(path), "<file>", f"not UTF-8 text (byte {err.start}, line {line}: {err.reason})"
        ) from err
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as err:
        raise ScenarioError(
            str(path), "<file>", f"not valid {path.suffix.lstrip('.').upper()}: {err}"
        ) from err
    if not isinstance(data, dict):
        raise ScenarioError(str(path), "<root>", "a scenario file must hold a mapping of fields")
    return validate_scenario(data, model, source=str(path))


def validate_scenario(data: dict, model: type[M], source: str) -> M:
    """Validates already-parsed scenario data; `source` names where it came from in errors."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise ScenarioError(source, _field_of(first), first["msg"]) from err


def scenario_provenance(ref: str) -> tuple[str | None, str | None]:
    """(absolute path, sha256 of the content) when `ref` names a scenario file, else (None, None): what a
    trajectory header stores so that `prm replay` finds the same scenario from any directory."""
    path = Path(ref)
    if not ref or not path.is_file():
        return None, None
    return str(path.resolve()), hashlib.sha256(path.read_bytes()).hexdigest()


def locate_recorded_scenario(ref: str, path: str | None, sha256: str | None) -> tuple[str, str]:
    """The scenario a trajectory was recorded with, and a note saying which source was used: the reference as
    given if it still names the same file (same content hash), else the recorded absolute path; a packaged id
    (no hash recorded) as it is. A file that is gone or changed is a `ScenarioError`, not a silent mismatch."""
    if sha256 is None:
        return ref, f"scenario {ref} (no file hash recorded: a packaged id, or an older recording)"
    seen = []
    for candidate in dict.fromkeys([ref, path or ""]):
        if candidate and Path(candidate).is_file():
            if hashlib.sha256(Path(candidate).read_bytes()).hexdigest() == sha256:
                return candidate, f"scenario file {candidate} (content hash matches the recording)"
            seen.append(f"{candidate} has changed since the recording")
    reason = "; ".join(seen) or f"the file is neither at {ref} nor at {path}"
    raise ScenarioError(ref, "scenario_path", f"cannot find the recorded scenario file: {reason}")
