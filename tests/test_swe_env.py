"""`prm/swe-v0` end to end in real Docker sandboxes (one cached image shared by the pack's scenarios)."""

from __future__ import annotations

import json

import docker
import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from typer.testing import CliRunner

import prm  # noqa: F401  (registers the env ids)
from prm.agents import OracleAgent
from prm.cli import app
from prm.envs.swe.env import SweEnv
from prm.rollout import run_episode
from prm.scenario import packaged_scenarios

pytestmark = pytest.mark.docker

GROUPBY = "toolz-groupby-key"
HIDDEN_TESTS = "toolz-partition-all-len"  # has a test_patch


def call(tool: str, **args) -> str:
    return json.dumps({"tool": tool, "args": args})


@pytest.fixture(scope="module")
def env(docker_engine):
    env = gym.make("prm/swe-v0", scenario=GROUPBY, sandbox="docker")
    yield env
    env.close()


@pytest.fixture(scope="module")
def hidden_env(docker_engine):
    env = SweEnv(HIDDEN_TESTS, sandbox="docker")
    yield env
    env.close()


def test_check_env_passes(env):
    check_env(env.unwrapped, skip_render_check=True)


def test_first_observation_has_issue_and_tool_manual(env):
    observation, info = env.reset(seed=0)
    assert "groupby" in observation and "edit(path, old, new)" in observation and "submit()" in observation
    assert info["scenario_id"] == GROUPBY and info["sandbox"] == "DockerSandbox"


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("I think I should look at the code", "no JSON object"),
        (call("rm_rf"), "unknown tool"),
        (call("edit", path="toolz/itertoolz.py", old="x"), "'new'"),
        (call("edit", path="toolz/itertoolz.py", old="this text is absent", new="y"), "does not occur"),
        (call("edit", path="toolz/itertoolz.py", old="def ", new="y"), "occurs"),
        (call("edit", path="toolz/itertoolz.py", old="", new="y"), "not empty"),
        (call("view", path="no/such/file.py"), "no such file"),
        (call("view", path="../../etc/passwd"), "outside the workspace"),
        (call("search", pattern="("), "search failed"),
    ],
)
def test_malformed_actions_explain_and_count_as_steps(env, action, message):
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step(action)
    assert message in observation and message in info["error"]
    assert info["reward_components"] == {"invalid_action": 1.0} and info["step"] == 1
    assert not terminated and not truncated and not info["infra_error"]


def test_tools_report_changed_files_and_truncate(env):
    env.reset(seed=0)
    _, _, _, _, info = env.step(call("bash", command="echo hi > notes.txt && touch toolz/utils.py"))
    assert info["changed_files"] == ["notes.txt", "toolz/utils.py"]
    _, _, _, _, info = env.step(call("bash", command="git status --porcelain"))
    assert info["changed_files"] == []
    _, _, _, _, info = env.step(call("edit", path="/workspace/notes.txt", old="hi", new="bye"))
    assert info["changed_files"] == ["notes.txt"]
    observation, *_ = env.step(call("bash", command="seq 1 100000"))
    assert "characters cut" in observation and observation.rstrip().endswith("[exit code 0]")
    observation, *_ = env.step(call("view", path="toolz/itertoolz.py", start_line=71, end_line=72))
    assert observation.splitlines()[1:] == [
        "    71\tdef groupby(key, seq):",
        '    72\t    """ Group a collection by a key function',
    ]
    observation, *_ = env.step(call("search", pattern="def groupby", path="toolz"))
    assert "toolz/itertoolz.py:71:def groupby(key, seq):" in observation
    observation, *_ = env.step(call("bash", command="sleep 30", timeout=1))
    assert "timed out after 1 s" in observation


def test_oracle_resolves(env):
    trajectory = run_episode(env, OracleAgent(), seed=0)
    outcome = trajectory.outcome.outcome
    assert outcome["resolved"] is True and trajectory.outcome.total_reward == 1.0
    assert set(outcome["tests"].values()) == {"passed"}
    assert trajectory.steps[-1].reward_components == {"outcome": 1.0}


def test_untouched_start_state_is_not_resolved(env):
    env.reset(seed=0)
    _, reward, terminated, truncated, info = env.step(call("submit"))
    assert terminated and not truncated and reward == 0.0
    assert info["outcome"]["resolved"] is False
    assert info["outcome"]["tests"]["toolz/tests/test_itertoolz.py::test_groupby_non_callable"] == "failed"
    assert info["outcome"]["tests"]["toolz/tests/test_itertoolz.py::test_groupby"] == "passed"


def test_step_budget_truncates_and_still_grades(docker_engine):
    with SweEnv(GROUPBY, sandbox="docker", max_steps=1) as env:
        env.reset(seed=0)
        _, _, terminated, truncated, info = env.step(call("bash", command="true"))
        assert truncated and not terminated and info["outcome"]["resolved"] is False


def test_fork_is_independent(env):
    env.reset(seed=0)
    base = env.unwrapped
    base.step(call("bash", command="echo base > mark.txt"))
    fork = base.fork()
    try:
        assert fork.history == base.history and len(fork.history) == 1
        fork.step(call("edit", path="mark.txt", old="base", new="fork"))
        base.step(call("bash", command="echo later > base_only.txt"))
        assert base.sandbox.read_file("mark.txt") == b"base\n"
        assert fork.sandbox.read_file("mark.txt") == b"fork\n"
        assert "base_only.txt" not in fork.sandbox.list_dir(".")
        for action in fork.oracle_actions():
            *_, info = fork.step(action)
        assert info["outcome"]["resolved"] is True
        assert base.run_tests(base.scenario.tests.fail_to_pass) == {
            base.scenario.tests.fail_to_pass[0]: False
        }
    finally:
        fork.close()


def test_run_tests_uses_a_fork_and_leaves_the_agent_state(hidden_env):
    hidden_env.reset(seed=0)
    hidden = "toolz/tests/test_itertoolz.py::test_partition_all_sequence_matches_iterator"
    before = hidden_env.sandbox.read_file("toolz/tests/test_itertoolz.py")
    assert hidden_env.run_tests([hidden]) == {hidden: False}
    assert hidden_env.run_tests([hidden], apply_test_patch=False) == {hidden: False}  # absent: not passed
    assert hidden_env.sandbox.read_file("toolz/tests/test_itertoolz.py") == before
    for action in hidden_env.oracle_actions()[:-1]:
        hidden_env.step(action)
    assert hidden_env.run_tests([hidden]) == {hidden: True}


def test_hidden_material_is_not_readable_in_the_sandbox(hidden_env):
    hidden_env.reset(seed=0)
    scenario = hidden_env.scenario
    added_test = next(line[1:] for line in scenario.test_patch.splitlines() if line.startswith("+def "))
    fixed_line = "yield prev[:len(seq) % n]"  # the gold patch's line
    assert fixed_line in "".join(hidden_env.repo.gold_files.values())
    for needle in (added_test.strip(), fixed_line):
        observation, *_ = hidden_env.step(
            call(
                "bash",
                command=f"grep -rF {json.dumps(needle)} /workspace /tmp /home; git log -p --all | grep -cF {json.dumps(needle)}",
            )
        )
        assert needle not in observation
        assert observation.splitlines()[-2:] == ["0", "[exit code 1]"]
    observation, *_ = hidden_env.step(
        call("bash", command="git log --oneline | wc -l; git status --porcelain")
    )
    assert observation.splitlines()[0] == "1"
    # timestamps do not point at the file the bug patch changed
    observation, *_ = hidden_env.step(call("bash", command="find . -newermt 2000-01-02 -not -path './.git*'"))
    assert observation == "(no output)\n[exit code 0]"


def test_sandbox_death_is_an_infra_error(docker_engine):
    with SweEnv(GROUPBY, sandbox="docker") as env:
        env.reset(seed=0)
        client = docker.from_env()
        client.containers.get(env.sandbox.container_id).kill()
        client.close()
        _, reward, terminated, truncated, info = env.step(call("bash", command="true"))
        assert info["infra_error"] is True and truncated and not terminated
        assert reward == 0.0 and info["outcome"]["reward"] is None
        assert "outcome" not in info["reward_components"]


def test_validate_cli_reports_good_and_bad_files(docker_engine, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        (packaged_scenarios("swe") / f"{GROUPBY}.yaml")
        .read_text()
        .replace("test_groupby_non_callable", "test_groupby_no_such_test")
    )
    result = CliRunner().invoke(app, ["scenario", "validate", str(bad), "--repeats", "1"])
    assert result.exit_code == 1
    assert "tests.fail_to_pass" in result.output and "test_groupby_no_such_test" in result.output
    good = packaged_scenarios("swe") / f"{GROUPBY}.yaml"
    result = CliRunner().invoke(app, ["scenario", "validate", str(good), "--repeats", "2"])
    assert result.exit_code == 0, result.output
    assert "all 1 scenario files are valid" in result.output


def test_without_a_scenario_each_reset_draws_one_from_the_pack_by_seed():
    from prm.envs.swe import scenario_ids

    env = gym.make("prm/swe-v0", sandbox="local")
    try:
        resets = [env.reset(seed=seed) for seed in (0, 1, 0)]
        drawn = [info["scenario_id"] for _, info in resets]
        assert set(drawn) <= set(scenario_ids()) and drawn[0] == drawn[2]
        statement = env.unwrapped.scenario.problem_statement.strip()
        assert env.unwrapped.scenario.id == drawn[2] and statement in resets[2][0]
    finally:
        env.close()
