"""SWE scenarios without a sandbox: the file model, its errors, patches, the oracle's edits, pytest parsing."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from prm.envs.swe.grading import TestRun, parse_statuses, run_tests
from prm.envs.swe.oracle import _replacements, oracle_actions
from prm.envs.swe.patches import PatchDoesNotApply, apply_patch, patch_paths
from prm.envs.swe.repo import prepare
from prm.envs.swe.scenario import load_swe_scenario, scenario_ids, scenario_paths
from prm.envs.swe.validate import validate_scenario_file
from prm.errors import SandboxError, ScenarioError
from prm.sandboxes.docker import DockerSandbox

BUG = textwrap.dedent(
    """\
    --- a/calc.py
    +++ b/calc.py
    @@ -1,2 +1,2 @@
     def add(a, b):
    -    return a + b
    +    return a - b
    """
)


@pytest.fixture
def local_repo(tmp_path: Path) -> Path:
    """A tiny repository on disk (`repo: {path: ...}`), so these tests need no package index."""
    repo = tmp_path / "calcpkg"
    (repo / "tests").mkdir(parents=True)
    (repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (repo / "tests" / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n\n\ndef test_zero():\n    assert add(0, 0) == 0\n"
    )
    return repo


def write_scenario(tmp_path: Path, **overrides) -> Path:
    data = {
        "id": "calc-add",
        "repo": {"path": "calcpkg"},
        "problem_statement": "add(2, 3) returns -1",
        "bug_patch": BUG,
        "tests": {
            "fail_to_pass": ["tests/test_calc.py::test_add"],
            "pass_to_pass": ["tests/test_calc.py::test_zero"],
        },
    }
    data.update(overrides)
    data = {key: value for key, value in data.items() if value is not None}
    path = tmp_path / "calc.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_pack_has_at_least_eight_scenarios_from_four_packages():
    scenarios = [load_swe_scenario(path) for path in scenario_paths()]
    assert len(scenarios) >= 8
    assert len({s.repo.name_version[0] for s in scenarios}) >= 4
    assert sorted(s.id for s in scenarios) == sorted(scenario_ids())
    assert any(s.test_patch for s in scenarios) and any(s.gold_patch for s in scenarios)


def test_local_repo_prepares_with_hidden_files_outside_the_workspace(tmp_path, local_repo):
    repo = prepare(load_swe_scenario(write_scenario(tmp_path)))
    assert "a - b" in (repo.workspace / "calc.py").read_text()
    assert repo.gold_files == {"calc.py": "def add(a, b):\n    return a + b\n"}
    assert set(repo.grading_files) == {"tests/test_calc.py"}
    assert (repo.workspace / ".git").is_dir()  # a baseline commit of the start state, so `git diff` works


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"problem_statement": None}, "problem_statement"),
        ({"repo": {"pypi": "toolz"}}, "repo.pypi"),
        ({"repo": {"pypi": "toolz==1.0.0", "path": "x"}}, "repo"),
        ({"bug_patch": "not a diff"}, "bug_patch"),
        ({"tests": {"fail_to_pass": ["tests/test_calc.py"]}}, "tests.fail_to_pass"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_malformed_fields_name_the_field(tmp_path, local_repo, overrides, field):
    path = write_scenario(tmp_path, **overrides)
    with pytest.raises(ScenarioError) as err:
        load_swe_scenario(path)
    assert err.value.field == field and err.value.file == str(path)


@pytest.mark.parametrize(
    ("overrides", "field", "reason"),
    [
        ({"bug_patch": BUG.replace("return a + b", "return a * b")}, "bug_patch", "does not apply"),
        ({"gold_patch": BUG}, "gold_patch", "does not apply"),
        ({"test_patch": BUG.replace("calc.py", "tests/nothing.py")}, "test_patch", "does not apply"),
        (
            {"tests": {"fail_to_pass": ["tests/test_calc.py::test_mul"]}},
            "tests.fail_to_pass",
            "unknown test id",
        ),
        (
            {
                "tests": {
                    "fail_to_pass": ["tests/test_calc.py::test_add"],
                    "pass_to_pass": ["tests/test_nope.py::t"],
                }
            },
            "tests.pass_to_pass",
            "no file tests/test_nope.py",
        ),
        ({"repo": {"path": "missing-dir"}}, "repo.path", "is not a directory"),
    ],
)
def test_inconsistent_scenarios_fail_at_prepare(tmp_path, local_repo, overrides, field, reason):
    path = write_scenario(tmp_path, **overrides)
    with pytest.raises(ScenarioError) as err:
        prepare(load_swe_scenario(path))
    assert err.value.field == field and reason in err.value.reason


def test_unknown_package_version_is_a_repo_pypi_error(tmp_path, local_repo):
    path = write_scenario(tmp_path, repo={"pypi": "toolz==0.0.404"})
    with pytest.raises(ScenarioError) as err:
        prepare(load_swe_scenario(path))
    assert err.value.field == "repo.pypi" and "toolz==0.0.404" in err.value.reason


def test_patches_apply_reverse_and_report_paths(tmp_path, local_repo):
    assert patch_paths(BUG) == ["calc.py"]
    apply_patch(local_repo, BUG)
    with pytest.raises(PatchDoesNotApply):
        apply_patch(local_repo, BUG)
    apply_patch(local_repo, BUG, reverse=True)
    assert "a + b" in (local_repo / "calc.py").read_text()


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (
            "a\nb\nc\n" * 3 + "x = 1\n" + "d\n" * 10 + "y = 2\n",
            "a\nb\nc\n" * 3 + "x = 10\n" + "d\n" * 10 + "y = 20\n",
        ),
        ("same\n" * 20, "same\n" * 10 + "new\n" + "same\n" * 10),  # ambiguous context: whole-file edit
    ],
)
def test_oracle_replacements_reproduce_the_gold_file(before, after):
    text = before
    for old, new in _replacements(before, after):
        assert text.count(old) == 1
        text = text.replace(old, new, 1)
    assert text == after


def test_oracle_actions_create_delete_and_submit():
    actions = oracle_actions({"new.py": None, "old.py": "x\n"}, {"new.py": "y\n", "old.py": None})
    assert '"old": ""' in actions[0] and "rm -f -- old.py" in actions[1]
    assert actions[-1] == '{"tool": "submit", "args": {}}'


def test_parse_statuses_reads_the_ra_summary():
    output = "PASSED t.py::a[x - y]\nFAILED t.py::K::b - AssertionError: 1 - 2\nERROR t.py::c\n"
    statuses = parse_statuses(output, ["t.py::a[x - y]", "t.py::K::b", "t.py::c", "t.py::d"])
    assert statuses == {
        "t.py::a[x - y]": "passed",
        "t.py::K::b": "failed",
        "t.py::c": "error",
        "t.py::d": "missing",
    }
    run = TestRun({}, 4, "ERROR: not found: /workspace/t.py::zz\n(no match in any of [<Module t.py>])")
    assert run.not_found == ["t.py::zz"]


@pytest.mark.docker
def test_local_path_scenario_validates_end_to_end(tmp_path, local_repo):
    path = write_scenario(tmp_path, requirements=["pytest==8.3.5"])  # the pack's image: no new build
    result = validate_scenario_file(path, sandbox="docker", repeats=2)
    assert result.ok, result.problem
    assert result.start == {
        "tests/test_calc.py::test_add": "failed",
        "tests/test_calc.py::test_zero": "passed",
    }
    assert set(result.gold.values()) == {"passed"} and result.repeats == 2


@pytest.mark.docker
def test_validation_rejects_a_fail_to_pass_test_that_already_passes(tmp_path, local_repo):
    tests = {
        "fail_to_pass": ["tests/test_calc.py::test_zero"],
        "pass_to_pass": ["tests/test_calc.py::test_add"],
    }
    result = validate_scenario_file(
        write_scenario(tmp_path, tests=tests, requirements=["pytest==8.3.5"]), "docker", 1
    )
    assert not result.ok and "field 'bug_patch'" in result.problem and "already passes" in result.problem


@pytest.mark.docker
def test_a_sandbox_without_pytest_is_an_infra_error_not_a_failed_test():
    # the bare base image has no pytest
    with DockerSandbox() as sandbox, pytest.raises(SandboxError, match="pytest is not installed"):
        run_tests(sandbox, ["tests/test_calc.py::test_add"])
