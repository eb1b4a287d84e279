"""The SWE scenario file: a repository (a PyPI sdist or a local directory), a bug, a report and the tests.

A scenario is a YAML (or JSON) file; this is the public format users author:

```yaml
id: toolz-groupby-key
repo:
  pypi: toolz==1.0.0          # the sdist from the package index is the repository (or `path: ./dir`)
problem_statement: |
  groupby ignores the key ...
bug_patch: |                  # unified diff applied to the pristine source: the starting state
  --- a/toolz/itertoolz.py
  +++ b/toolz/itertoolz.py
  ...
gold_patch: |                 # optional; default: the reverse of bug_patch. Never shown to the agent.
test_patch: |                 # optional; tests added only at grading time, never visible to the agent
tests:
  fail_to_pass: [toolz/tests/test_itertoolz.py::test_groupby]
  pass_to_pass: [toolz/tests/test_itertoolz.py::test_unique]
requirements: [pytest]        # packages for the image, installed offline from host-fetched wheels
difficulty: {level: easy, lines_changed: 2, tests_broken: 1}   # optional; written by `prm scenario synth`
max_steps: 40
```

Loading checks the fields (`ScenarioError` naming file, field and reason). Whether the patches apply, the
package version exists and the test ids name real tests is checked when the repository is prepared
(`prm.envs.swe.repo.prepare`), which `make` does; `prm scenario validate` also runs the tests.

Example:
    >>> from prm.envs.swe.scenario import load_swe_scenario, scenario_ids
    >>> "toolz-groupby-key" in scenario_ids()
    True
    >>> load_swe_scenario("toolz-groupby-key").repo.pypi
    'toolz==1.0.0'
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from prm.models import ScenarioBase
from prm.scenario import load_scenario, packaged_scenarios, resolve_scenario, scenario_files

FAMILY = "swe"
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)$")
_TEST_ID = re.compile(r"^[^:\s][^:]*\.py(::[^:]+)+$")


class RepoSource(BaseModel):
    """Where the repository comes from: exactly one of `pypi` ("name==version") or `path` (a directory)."""

    model_config = ConfigDict(extra="forbid")

    pypi: str | None = Field(default=None, description="an exact pin, e.g. 'toolz==1.0.0'")
    path: str | None = Field(default=None, description="a directory, relative to the scenario file")

    @field_validator("pypi")
    @classmethod
    def _exact_pin(cls, value: str | None) -> str | None:
        if value is not None and not _PIN.match(value):
            raise ValueError(f"must be an exact pin 'name==version', got {value!r}")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> RepoSource:
        if (self.pypi is None) == (self.path is None):
            raise ValueError("give exactly one of 'pypi' (name==version) or 'path' (a directory)")
        return self

    @property
    def name_version(self) -> tuple[str, str]:
        """(name, version) of a `pypi` source."""
        match = _PIN.match(self.pypi or "")
        if match is None:
            raise ValueError("name_version is only defined for a 'pypi' source")
        return match["name"], match["version"]


class TestSpec(BaseModel):
    """The graded tests, as pytest node ids (`path/to/test_file.py::test_name`, `...::Class::test`)."""

    __test__ = False  # not a pytest test class
    model_config = ConfigDict(extra="forbid")

    fail_to_pass: list[str] = Field(min_length=1, description="fail at the start, must pass after the fix")
    pass_to_pass: list[str] = Field(default_factory=list, description="pass at the start, must keep passing")

    @field_validator("fail_to_pass", "pass_to_pass")
    @classmethod
    def _node_ids(cls, ids: list[str]) -> list[str]:
        for test_id in ids:
            if not _TEST_ID.match(test_id):
                raise ValueError(f"{test_id!r} is not a pytest node id like 'tests/test_x.py::test_name'")
        if len(set(ids)) != len(ids):
            raise ValueError("lists a test id twice")
        return ids

    @property
    def all(self) -> list[str]:
        return [*self.fail_to_pass, *self.pass_to_pass]


class Difficulty(BaseModel):
    """An estimate of how hard a scenario is, from the size of its bug and of the failure it causes (written
    by `prm scenario synth`): `easy` for a one-line change (2 diff lines) breaking one or two tests, `hard` from 4 diff lines or
    6 broken tests, else `medium`."""

    model_config = ConfigDict(extra="forbid")

    level: Literal["easy", "medium", "hard"]
    lines_changed: int = Field(ge=1, description="lines the bug patch removes plus lines it adds")
    tests_broken: int = Field(ge=1, description="tests that the bug makes fail")

    @classmethod
    def estimate(cls, lines_changed: int, tests_broken: int) -> Difficulty:
        """The estimate for a bug patch of `lines_changed` diff lines that breaks `tests_broken` tests.

        >>> Difficulty.estimate(2, 1).level
        'easy'
        """
        if lines_changed >= 4 or tests_broken >= 6:
            level = "hard"
        elif lines_changed <= 2 and tests_broken <= 2:
            level = "easy"
        else:
            level = "medium"
        return cls(level=level, lines_changed=lines_changed, tests_broken=tests_broken)


class SweScenario(ScenarioBase):
    """One bug-fixing task. `source` (set by `load_swe_scenario`) is the file it came from."""

    repo: RepoSource
    problem_statement: str = Field(min_length=1)
    bug_patch: str = Field(min_length=1)
    gold_patch: str | None = None
    test_patch: str | None = None
    tests: TestSpec
    requirements: list[str] = Field(default_factory=lambda: ["pytest"])
    difficulty: Difficulty | None = None

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("bug_patch", "gold_patch", "test_patch")
    @classmethod
    def _unified_diff(cls, value: str | None) -> str | None:
        if value is not None and not re.search(r"^--- .*\n\+\+\+ .*\n@@ ", value, re.MULTILINE):
            raise ValueError("is not a unified diff (needs '--- a/file', '+++ b/file' and '@@' hunk lines)")
        return value

    @field_validator("requirements")
    @classmethod
    def _requirements(cls, reqs: list[str]) -> list[str]:
        for req in reqs:
            if not req.strip() or req.strip() != req:
                raise ValueError(
                    f"requirement {req!r} must be a non-empty specifier without spaces around it"
                )
        return reqs

    @property
    def source(self) -> Path:
        """The scenario file (or `<memory>` for a scenario built in code)."""
        return self._source or Path("<memory>")

    @property
    def image_requirements(self) -> list[str]:
        """The image's packages: `requirements`, plus pytest when no requirement names it."""
        named = {re.split(r"[<>=!~\[; ]", req, maxsplit=1)[0].lower() for req in self.requirements}
        return [*self.requirements, *([] if "pytest" in named else ["pytest"])]


def load_swe_scenario(ref: str | Path) -> SweScenario:
    """Loads a scenario from a file path or from the id of a scenario in the packaged pack."""
    path = resolve_scenario(FAMILY, ref)
    scenario = load_scenario(path, SweScenario)
    scenario._source = path.resolve()
    return scenario


def scenario_paths(ref: str | Path | None = None) -> list[Path]:
    """The scenario files `ref` names: an id, a file, a directory (all its files) or None (the packaged pack)."""
    if ref is None:
        return scenario_files(packaged_scenarios(FAMILY))
    if Path(ref).is_dir():
        return scenario_files(ref)
    return [resolve_scenario(FAMILY, ref)]


def scenario_ids() -> list[str]:
    """Ids of the scenarios in the packaged pack (the file stems, which equal the `id` fields)."""
    return [path.stem for path in scenario_paths()]
