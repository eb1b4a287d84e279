"""prm/data-analysis-v0: answer grading, the pack, the importer, the env (kernel, signals, fork, oracle, probe)."""

from __future__ import annotations

import gzip
import json

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env
from rich.progress import Progress

import prm
from prm.agents import OracleAgent
from prm.envs.data_analysis.answers import AnswerFormatError, parse_answer, score_answer
from prm.envs.data_analysis.scenario import import_dabench, load_data_scenario
from prm.errors import ScenarioError
from prm.rollout import run_episode
from prm.scenario import packaged_scenarios, scenario_files


def python(code: str, **extra) -> str:
    return json.dumps({"tool": "python", "args": {"code": code, **extra}})


def answer(text: str) -> str:
    return json.dumps({"tool": "answer", "args": {"text": text}})


LOAD = "import pandas as pd\ndf = pd.read_csv('test_ave.csv')"


def test_answers_parse_compare_at_the_asked_precision_and_normalise_strings():
    assert parse_answer("@a[1] text @b[[1, [2]]] @c[ x ]") == [("a", "1"), ("b", "[1, [2]]"), ("c", "x")]
    with pytest.raises(AnswerFormatError):
        parse_answer("the mean is 34.65")
    with pytest.raises(AnswerFormatError):
        parse_answer("@mean[34.65")
    gold = [("mean", "34.65"), ("kind", "Not Normal")]
    assert score_answer("@mean[34.6459] @kind[ not  normal ]", gold, "two decimal places") == (
        1.0,
        [True, True],
    )
    assert score_answer("@mean[34.66] @kind[normal]", gold, "two decimal places") == (0.0, [False, False])
    assert score_answer("@MEAN[34.654]", gold, "") == (0.5, [True, False])
    repeated = [("r", "0.38"), ("r", "0.78")]
    assert score_answer("@r[0.38] @r[0.78]", repeated)[0] == 1.0
    assert score_answer("@r[0.78] @r[0.38]", repeated)[0] == 0.0


def test_the_gold_answer_of_every_packaged_scenario_scores_one():
    files = scenario_files(packaged_scenarios("data_analysis"))
    assert len(files) == 172
    with_solution = 0
    for path in files:
        scenario = load_data_scenario(path)
        text = " ".join(f"@{name}[{value}]" for name, value in scenario.answers)
        reward, _ = score_answer(text, scenario.answers, f"{scenario.constraints}\n{scenario.format}")
        assert reward == 1.0, scenario.id
        with_solution += scenario.solution is not None
    assert with_solution >= 40


def write_dabench_files(folder, **question_fields):
    """A one-question data set in DABench's format: (questions file, labels file, tables folder)."""
    tables = folder / "tables"
    tables.mkdir(exist_ok=True)
    (tables / "t.csv").write_text("x,y\n1,2\n3,4\n")
    question = {"id": 7, "question": "Mean of x?", "constraints": "two decimal places", "format": "@m[v]"}
    question |= {"file_name": "t.csv", "level": "easy", "concepts": ["Summary Statistics"], **question_fields}
    (folder / "q.jsonl").write_text(json.dumps(question) + "\n")
    (folder / "l.jsonl").write_text(json.dumps({"id": 7, "common_answers": [["m", "2.00"]]}) + "\n")
    return [folder / "q.jsonl", folder / "l.jsonl", tables]


def test_import_dabench_converts_files_of_the_format(tmp_path):
    out = tmp_path / "pack"
    with Progress(disable=True) as progress:
        written = import_dabench(write_dabench_files(tmp_path), out, progress)
    scenario = load_data_scenario(written[0])
    assert scenario.id == "dabench-7" and scenario.answers == [("m", "2.00")]
    assert gzip.decompress((out / "tables" / "t.csv.gz").read_bytes()) == b"x,y\n1,2\n3,4\n"


def test_import_dabench_names_the_bad_record(tmp_path):
    files = write_dabench_files(tmp_path, file_name="../secret.csv")
    with pytest.raises(ScenarioError, match=r"q.jsonl:1.*file_name"), Progress(disable=True) as progress:
        import_dabench(files, tmp_path / "pack", progress)
    assert not (tmp_path / "pack").exists()


@pytest.mark.docker
def test_an_imported_question_file_runs(tmp_path):
    with Progress(disable=True) as progress:
        (path,) = import_dabench(write_dabench_files(tmp_path), tmp_path / "pack", progress)
    env = gym.make("prm/data-analysis-v0", scenario=str(path))
    try:
        env.reset(seed=0)
        observation, *_ = env.step(python("import pandas as pd\nround(pd.read_csv('t.csv')['x'].mean(), 2)"))
        assert observation == "np.float64(2.0)\n"
        _, reward, terminated, _, info = env.step(answer("@m[2]"))
        assert terminated and reward == 1.0 and info["outcome"]["correct"]
    finally:
        env.close()


@pytest.fixture(scope="module")
def env(request):
    request.getfixturevalue("docker_engine")
    env = gym.make("prm/data-analysis-v0", scenario="dabench-0")
    yield env
    env.close()


@pytest.mark.docker
def test_the_kernel_keeps_state_and_the_step_signals_move_the_right_way(env):
    env.reset(seed=0)
    _, _, _, _, info = env.step(python(LOAD + "\nround(df['Fare'].mean(), 2)"))
    assert info["reward_components"] == {"exec_error": 0.0, "recovered": 0.0, "new_information": 1.0}
    observation, _, _, _, info = env.step(python("df['NoSuchColumn']"))
    assert "KeyError" in observation and info["reward_components"]["exec_error"] == 1.0
    observation, _, _, _, info = env.step(python("round(df['Fare'].mean(), 2)"))  # state kept across steps
    assert observation == "np.float64(34.65)\n"
    assert info["reward_components"] == {"exec_error": 0.0, "recovered": 1.0, "new_information": 0.0}
    _, _, _, _, info = env.step(python("df.shape"))
    assert info["reward_components"]["new_information"] == 1.0 and not info["infra_error"]
    _, reward, terminated, _, info = env.step(answer("@mean_fare[34.65]"))
    assert terminated and reward == 1.0 and info["reward_components"]["answer_format"] == 1.0
    assert info["outcome"] == {
        "reward": 1.0,
        "correct": True,
        "answer": "@mean_fare[34.65]",
        "matched": [True],
    }


@pytest.mark.docker
def test_fork_rebuilds_the_variables_and_is_independent(env):
    env.reset(seed=0)
    env.step(python(LOAD + "\ntotal = 1"))
    fork = env.unwrapped.fork()
    try:
        fork.step(python("total = 100"))
        assert fork.step(python("total, len(df)"))[0] == "(100, 715)\n"
        assert env.step(python("total, len(df)"))[0] == "(1, 715)\n"
    finally:
        fork.close()


@pytest.mark.docker
def test_oracle_runs_the_reference_solution_and_scores_one(env):
    trajectory = run_episode(env, OracleAgent(), seed=0)
    assert "@mean_fare[34.65]" in trajectory.steps[0].observation  # printed by the solution, in the sandbox
    assert trajectory.outcome.outcome["correct"] is True and trajectory.rewards[-1] == 1.0


@pytest.mark.docker
def test_progress_probe_rewards_the_step_that_computes_the_gold_value():
    env = gym.make("prm/data-analysis-v0", scenario="dabench-0", rewards=["progress:probe"])
    try:
        env.reset(seed=0)
        _, reward_load, _, _, _ = env.step(python(LOAD))
        _, reward_compute, _, _, info = env.step(python("fare = round(df['Fare'].mean(), 2)"))
        assert (reward_load, reward_compute) == (0.0, 1.0)  # held in a variable, not printed
        assert info["reward_components"]["progress"] == 1.0
        assert env.unwrapped.probe() == 1.0
        env.unwrapped.step(python("del fare"))
        assert env.unwrapped.probe() == 0.0
    finally:
        env.close()


@pytest.mark.docker
def test_check_env_passes():
    env = prm.envs.data_analysis.DataAnalysisEnv(scenario="dabench-0")
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


@pytest.mark.docker
def test_validate_accepts_a_packaged_scenario_and_reports_a_wrong_solution(tmp_path):
    from prm.envs.data_analysis.validate import validate_scenario_file

    good = validate_scenario_file(packaged_scenarios("data_analysis") / "dabench-24.yaml")
    assert good.ok and good.checks() == {"gold answer": "1 x 1.0", "solution": "reproduces"}
    pack = packaged_scenarios("data_analysis")
    text = (pack / "dabench-24.yaml").read_text()
    (tmp_path / "tables").symlink_to(pack / "tables")
    (tmp_path / "solutions").mkdir()
    (tmp_path / "solutions" / "24.py").write_text("print('@mean_age[40.00]')\n")
    (tmp_path / "bad.yaml").write_text(text)
    bad = validate_scenario_file(tmp_path / "bad.yaml")
    assert not bad.ok and "solution" in bad.problem and "40.00" in bad.problem


def test_progress_probe_is_refused_on_an_env_without_a_probe_hook():
    from prm.errors import RewardSpecError
    from prm.rewards.spec import apply_rewards
    from tests.guess_env import GuessEnv

    with pytest.raises(RewardSpecError, match="probe"):
        apply_rewards(GuessEnv(), ["progress:probe"])
