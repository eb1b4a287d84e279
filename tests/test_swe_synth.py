"""SWE scenario synthesis: each mutation operator, the bug report, bad packages, and end to end in Docker."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import gymnasium as gym
import pytest
from typer.testing import CliRunner

import prm  # noqa: F401  (registers the env ids)
from prm.cli import app
from prm.envs.swe import repo
from prm.envs.swe.mutations import OPERATORS, mutations
from prm.envs.swe.scenario import Difficulty, load_swe_scenario
from prm.envs.swe.synth import (
    MANIFEST_FILE,
    STATE_FILE,
    SynthConfig,
    SynthError,
    find_source_files,
    find_test_files,
    pack_manifest,
    problem_statement,
    synthesize,
)
from prm.envs.swe.validate import validate_scenario_file
from prm.scenario import scenario_files

runner = CliRunner()


def _afters(source: str, kind: str) -> list[str]:
    return [m.after for m in mutations(textwrap.dedent(source), [kind])]


def test_flip_comparison_turns_each_operator_into_its_twin():
    afters = _afters("def f(a, b):\n    return a < b or a in b or a is None\n", "flip_comparison")
    assert "    return a <= b or a in b or a is None\n" in [a.splitlines(keepends=True)[1] for a in afters]
    assert any("a not in b" in a for a in afters) and any("a is not None" in a for a in afters)
    assert len(afters) == 3


def test_off_by_one_moves_integer_literals_in_arithmetic_indexes_slices_and_range():
    source = "def f(xs):\n    for i in range(2):\n        xs = xs[1:] + [xs[0] * 3]\n    return xs\n"
    afters = _afters(source, "off_by_one")
    assert any("range(3)" in a for a in afters)
    assert any("xs[2:]" in a for a in afters)
    assert any("xs[1] * 3" in a for a in afters) and any("xs[0] * 4" in a for a in afters)
    assert all("def f(xs):" in a for a in afters)  # only the literal changes, the rest keeps its text


def test_drop_branch_deletes_an_if_without_else_but_never_empties_a_block():
    source = """\
    def f(x):
        if x < 0:
            x = -x
        return x

    def g(x):
        if x:
            return 1
    """
    afters = _afters(source, "drop_branch")
    assert afters == [textwrap.dedent(source).replace("    if x < 0:\n        x = -x\n", "")]


def test_swap_arguments_exchanges_the_first_two_distinct_positional_arguments():
    afters = _afters("def f(a, b):\n    return divmod(a, b) + pow(a, a) + g(*a, b)\n", "swap_arguments")
    assert afters == ["def f(a, b):\n    return divmod(b, a) + pow(a, a) + g(*a, b)\n"]


def test_wrong_default_changes_literal_defaults():
    afters = _afters("def f(a=True, b=3, c='x', d=None, *, e=False):\n    pass\n", "wrong_default")
    heads = sorted(a.splitlines()[0] for a in afters)
    assert heads == [
        "def f(a=False, b=3, c='x', d=None, *, e=False):",
        "def f(a=True, b=3, c='', d=None, *, e=False):",
        "def f(a=True, b=3, c='x', d=None, *, e=True):",
        "def f(a=True, b=4, c='x', d=None, *, e=False):",
    ]


def test_remove_call_deletes_effect_calls_on_their_own_lines_only():
    source = "def f(xs):\n    xs.sort()\n    xs.append(1); xs.pop()\n    return xs\n"
    assert _afters(source, "remove_call") == ["def f(xs):\n    xs.append(1); xs.pop()\n    return xs\n"]


def test_every_operator_yields_parsable_changed_sources_and_nothing_for_broken_modules():
    source = Path(repo.__file__).read_text()  # a real module of this project
    found = mutations(source)
    assert {m.kind for m in found} == set(OPERATORS)
    assert all(m.after != source for m in found)
    assert mutations("def broken(:\n") == []


def test_problem_statement_uses_test_names_and_messages_never_the_patch():
    broken = [f"tests/test_a.py::test_{i}" for i in range(7)]
    text = problem_statement("pkg", broken, {broken[0]: "AssertionError: assert `3` == 4"})
    assert text.startswith("pkg: test_0, test_1, test_2 and 4 more fail")
    assert "- `tests/test_a.py::test_0`: AssertionError: assert '3' == 4" in text
    assert "... and 2 more" in text and "---" not in text and "@@" not in text
    params = problem_statement("pkg", ["t.py::test_p[1]", "t.py::test_p[2]"], {})
    assert params.startswith("pkg: test_p fail\n")


def test_difficulty_grows_with_the_change_and_the_broken_tests():
    assert Difficulty.estimate(2, 1).level == "easy"
    assert Difficulty.estimate(3, 2).level == "medium"
    assert Difficulty.estimate(2, 9).level == "hard" and Difficulty.estimate(6, 1).level == "hard"


def test_config_rejects_unknown_kinds_and_sources(tmp_path):
    with pytest.raises(ValueError, match="unknown mutation kind 'typo'"):
        SynthConfig(source=str(tmp_path), n=1, out=tmp_path / "o", kinds=["typo"])
    with pytest.raises(SynthError, match="neither an exact pin"):
        _ = SynthConfig(source="not a package", n=1, out=tmp_path / "o").repo


def _repo(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkgrepo"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


MATHS = {
    "maths.py": """\
        def clamp(x, low=0, high=10):
            if x < low:
                return low
            if x > high:
                return high
            return x


        def last(xs):
            return xs[len(xs) - 1]


        def is_adult(age):
            return age >= 18
        """,
    "tests/test_maths.py": """\
        from maths import clamp, is_adult, last


        def test_clamp_low():
            assert clamp(-5) == 0


        def test_clamp_high():
            assert clamp(50) == 10


        def test_clamp_inside():
            assert clamp(5) == 5


        def test_last():
            assert last([1, 2, 3]) == 3


        def test_adult_from_18():
            assert is_adult(18) and not is_adult(17)
        """,
}


def test_test_and_source_files_are_told_apart(tmp_path):
    root = _repo(tmp_path, {**MATHS, "setup.py": "", "tests/conftest.py": "", "tests/helpers.py": ""})
    assert find_test_files(root) == ["tests/test_maths.py"]
    assert find_source_files(root, find_test_files(root)) == ["maths.py"]


def test_links_out_of_the_repository_are_never_read(tmp_path):
    """Attack: a package links a module or a folder to host files, hoping they end up in a bug patch."""
    secret = tmp_path / "host"
    secret.mkdir()
    (secret / "secret.py").write_text("TOKEN = 1 + 1\n")
    (secret / "test_secret.py").write_text("def test_x():\n    assert 1 < 2\n")
    root = _repo(tmp_path, MATHS)
    (root / "stolen.py").symlink_to(secret / "secret.py")
    (root / "linked").symlink_to(secret, target_is_directory=True)
    assert find_test_files(root) == ["tests/test_maths.py"]
    assert find_source_files(root, find_test_files(root)) == ["maths.py"]


def test_a_package_without_tests_is_refused_and_nothing_is_written(tmp_path):
    root = _repo(tmp_path, {"maths.py": MATHS["maths.py"]})
    out = tmp_path / "out"
    result = runner.invoke(app, ["scenario", "synth", str(root), "--n", "1", "--out", str(out)])
    assert result.exit_code == 2 and "ships no tests" in result.output
    assert not out.exists()


@pytest.mark.docker
@pytest.mark.parametrize(
    ("test_text", "reason"),
    [
        ("from maths import clamp\n\ndef test_a():\n    assert clamp(5) == 6\n", "the test suite fails"),
        ("import not_a_module_here\n\ndef test_a():\n    pass\n", "does not build"),
    ],
)
def test_a_failing_or_unbuildable_suite_is_refused_and_nothing_is_written(tmp_path, test_text, reason):
    root = _repo(tmp_path, {"maths.py": MATHS["maths.py"], "tests/test_x.py": test_text})
    out = tmp_path / "out"
    with pytest.raises(SynthError, match=reason):
        synthesize(SynthConfig(source=str(root), n=1, out=out))
    assert not out.exists()


@pytest.mark.docker
def test_a_hanging_mutation_is_dropped_after_the_timeout(tmp_path):
    root = _repo(
        tmp_path,
        {
            "count.py": "def count(n):\n    i = 0\n    while i != n:\n        i = i + 1\n    return i\n",
            "tests/test_count.py": "from count import count\n\ndef test_count():\n    assert count(3) == 3\n",
        },
    )
    config = SynthConfig(
        source=str(root), n=1, out=tmp_path / "out", kinds=["off_by_one"], min_timeout_s=5, timeout_factor=1
    )
    report = synthesize(config)
    assert report.kept == 0 and report.dropped == {"timeout": 1}
    assert not list(config.out.glob("*.yaml"))


@pytest.mark.docker
def test_synthesised_scenarios_validate_run_and_resume(tmp_path):
    root = _repo(tmp_path, MATHS)
    config = SynthConfig(source=str(root), n=2, out=tmp_path / "out", kinds=["flip_comparison", "off_by_one"])
    report = synthesize(config)
    assert report.kept == 2
    files = sorted(config.out.glob("*.yaml"))
    assert len(files) == 2
    scenario = load_swe_scenario(files[0])
    assert scenario.difficulty is not None and scenario.tests.fail_to_pass
    assert "@@" not in scenario.problem_statement and "return" not in scenario.problem_statement
    assert validate_scenario_file(files[0], sandbox="docker", repeats=1).ok

    env = gym.make("prm/swe-v0", scenario=str(files[1]), sandbox="docker")
    try:
        env.reset(seed=0)
        for action in env.unwrapped.oracle_actions():
            *_, info = env.step(action)
        assert info["outcome"]["resolved"] is True
    finally:
        env.close()

    state = json.loads((config.out / STATE_FILE).read_text())
    tried = len(state["candidates"])
    assert synthesize(config).kept == 2  # resumed: nothing more to do
    assert len(json.loads((config.out / STATE_FILE).read_text())["candidates"]) == tried
    manifest = json.loads((config.out / MANIFEST_FILE).read_text())
    assert manifest["scenarios"] == 2 and sum(manifest["kept_by_kind"].values()) == 2
    assert (
        pack_manifest(tmp_path)["packages"] == {"out": 2} == {"out": pack_manifest(config.out)["scenarios"]}
    )
    bench = runner.invoke(app, ["bench", "synth", str(tmp_path)])
    assert (
        bench.exit_code == 0
        and "keep rate" in bench.output
        and "validated scenarios per hour" in bench.output
    )


@pytest.mark.docker
def test_without_validation_a_second_run_confirms_each_kept_candidate(tmp_path):
    config = SynthConfig(
        source=str(_repo(tmp_path, MATHS)),
        n=1,
        out=tmp_path / "out",
        kinds=["off_by_one"],
        validate_scenarios=False,
    )
    assert synthesize(config).kept == 1
    assert load_swe_scenario(next(config.out.glob("*.yaml"))).tests.fail_to_pass == [
        "tests/test_maths.py::test_last"
    ]


def test_manifests_and_state_files_are_not_scenario_files(tmp_path):
    for name in ("a.yaml", MANIFEST_FILE, STATE_FILE, "sub/b.yml", "sub/.hidden/c.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}")
    assert scenario_files(tmp_path) == [tmp_path / "a.yaml", tmp_path / "sub" / "b.yml"]


def test_a_version_the_index_does_not_have_is_refused_and_nothing_is_written(tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(app, ["scenario", "synth", "toolz==0.0.0.999", "--n", "1", "--out", str(out)])
    assert result.exit_code == 2 and "no source distribution for toolz==0.0.0.999" in result.output
    assert not out.exists()
