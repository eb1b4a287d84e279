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


def load_scenario(path: str | Path, model: type[M]) -> M:
    """Parses a YAML or JSON scenario file into `model`; every failure is a `ScenarioError`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(str(path), "<file>", f"cannot read: {err.strerror or err}") from err
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
