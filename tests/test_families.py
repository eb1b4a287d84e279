"""The family contract: each family declares its parts once (`FAMILY` in its `__init__`), core code under
`prm/` names no family, and the CLI finds importers, validators and benchmarks through the registry."""

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import prm
from prm.cli import app
from prm.errors import SandboxError, ScenarioError
from prm.family import Validation, load_ref
from prm.registration import FAMILY_PACKAGES, families

runner = CliRunner()


@pytest.mark.parametrize("name", sorted(families()))
def test_every_declared_part_resolves(name):
    family = families()[name]
    assert family.env_class().__name__.endswith("Env")
    refs = [family.loader, family.validator, *family.importers.values(), *family.benches.values()]
    for ref in filter(None, refs):
        assert callable(load_ref(ref)), ref


def test_import_prm_loads_no_family_dependencies():
    code = "import sys, prm; print(sorted(m for m in ('bm25s', 'docker', 'prm.envs.swe.env') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_registry_lists_each_family_once():
    assert len(FAMILY_PACKAGES) == len(set(FAMILY_PACKAGES)) == len(families())
    assert {family.env_id for family in families().values()} <= set(prm.registration.ENV_IDS)


def test_rewards_bench_measures_the_families_declaring_repairs_code():
    from prm.bench.rewards import repair_env_ids

    declared = [family.env_id for family in families().values() if family.repairs_code]
    assert repair_env_ids() == declared and "prm/swe-v0" in declared


def test_cli_bench_lists_every_family_bench():
    result = runner.invoke(app, ["bench", "--help"])
    assert result.exit_code == 0
    for family in families().values():
        for name in family.benches:
            assert name in result.output


def test_validate_picks_the_family_by_loader_and_checks_search_qa_files(tmp_path):
    from prm.envs.search_qa import load_pack, scenario_ids
    from prm.envs.search_qa.scenarios import write_scenarios

    scenario = load_pack()[scenario_ids("dev")[0]]
    (good,) = write_scenarios([(scenario, [])], tmp_path / "good")
    missing = "No Such Paragraph At All"
    broken = scenario.model_copy(
        update={
            "supporting_facts": [(missing, 0), *scenario.supporting_facts],
            "context_titles": [missing, *scenario.context_titles],
        }
    )
    (bad,) = write_scenarios([(broken, [])], tmp_path / "bad")
    result = runner.invoke(app, ["scenario", "validate", str(good), "--repeats", "1"])
    assert result.exit_code == 0, result.output
    assert "search_qa" in result.output and "all 1 scenario files are valid" in result.output
    result = runner.invoke(app, ["scenario", "validate", str(bad), "--repeats", "1"])
    assert result.exit_code == 1 and "FAILED" in result.output and "supporting_facts" in result.output


def test_validate_names_every_family_that_refused_a_file(tmp_path):
    stray = tmp_path / "stray.yaml"
    stray.write_text("id: nothing\n")
    result = runner.invoke(app, ["scenario", "validate", str(stray)])
    assert result.exit_code == 2
    for name in families():
        assert name in result.output


class Closable:
    closed = False

    def close(self):
        self.closed = True


@pytest.mark.parametrize(
    ("error", "infra"),
    [(ScenarioError("f.yaml", "answer", "wrong"), False), (SandboxError("engine gone"), True)],
)
def test_validation_recording_keeps_the_problem_counts_rounds_and_closes_the_env(error, infra):
    result, stages, env = Validation(Path("f.yaml")), [], Closable()
    with result.recording(stages.append) as run:
        assert run.open(env) is env
        for index in run.rounds(3, "oracle"):
            if index == 2:
                raise error
    assert (result.problem, result.infra_error, result.repeats) == (str(error), infra, 2)
    assert env.closed and result.seconds > 0
    assert stages == [f"round {i}/3: oracle" for i in (1, 2, 3)]


def test_validation_recording_lets_a_bug_through():
    with pytest.raises(KeyError), Validation(Path("f.yaml")).recording():
        {}["a bug, not a bad scenario"]
