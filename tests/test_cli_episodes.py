"""`prm run`, `prm replay` and `prm list`, end to end on the search-QA family (fast, no sandbox)."""

from typer.testing import CliRunner

from prm import load_trajectory, write_trajectory
from prm.cli import app
from prm.registration import families
from prm.scenario import packaged_scenarios

runner = CliRunner()


def _run(tmp_path, *args):
    result = runner.invoke(app, ["run", "prm/search-qa-v0", "--out", str(tmp_path), *args])
    assert result.exit_code == 0, result.output
    return result.output, sorted(tmp_path.glob("*.jsonl"), key=lambda path: path.stem[-4:])  # by episode


def test_run_prints_step_rewards_and_writes_trajectories(tmp_path):
    output, files = _run(tmp_path, "--episodes", "2", "--kw", "mode=distractor", "--seed", "5")
    assert len(files) == 2
    assert output.count("reward=+1.000") == 2 and "outcome=+1.000" in output
    trajectory = load_trajectory(files[0])
    assert trajectory.header.env_id == "prm/search-qa-v0"
    assert trajectory.header.env_kwargs == {"mode": "distractor"} and trajectory.header.seed == 5
    assert trajectory.outcome.outcome["f1"] == 1.0


def test_run_cycles_through_a_folder_of_scenarios(tmp_path):
    source = tmp_path / "questions.jsonl"
    source.write_text(
        "".join(packaged_scenarios("search_qa").joinpath("hotpotqa_dev.jsonl").open().readlines()[:2])
    )
    result = runner.invoke(
        app, ["scenario", "import", "hotpotqa", str(source), "--out", str(tmp_path / "pack")]
    )
    assert result.exit_code == 0, result.output
    _, files = _run(tmp_path / "runs", "--scenario", str(tmp_path / "pack"), "--episodes", "3")
    scenario_ids = [load_trajectory(path).header.scenario_id for path in files]
    assert len(set(scenario_ids)) == 2 and scenario_ids[0] == scenario_ids[2]


def test_replay_reports_identical_and_catches_a_tampered_step(tmp_path):
    _, files = _run(tmp_path / "runs", "--scenario", "5abf63f15542997ec76fd3ea")
    result = runner.invoke(app, ["replay", str(files[0])])
    assert result.exit_code == 0 and "identical" in result.output, result.output

    trajectory = load_trajectory(files[0])
    trajectory.steps[0].observation = "something else"
    trajectory.steps[-1].reward = 0.25
    tampered = write_trajectory(tmp_path / "tampered.jsonl", trajectory)
    result = runner.invoke(app, ["replay", str(tampered)])
    assert result.exit_code == 1
    assert "observation" in result.output and "0.25" in result.output


def test_list_shows_every_env_and_its_pack():
    result = runner.invoke(app, ["list"])
    assert result.exit_code == 0
    assert "prm/search-qa-v0" in result.output and "600" in result.output
    assert "prm/swe-v0" in result.output


def test_bad_arguments_are_named(tmp_path):
    result = runner.invoke(app, ["run", "prm/nope-v0"])
    assert result.exit_code != 0 and "unknown env" in result.output
    result = runner.invoke(app, ["run", "prm/search-qa-v0", "--agent", "wizard", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "unknown agent" in result.output
    result = runner.invoke(app, ["run", "prm/search-qa-v0", "--kw", "novalue", "--out", str(tmp_path)])
    assert result.exit_code != 0 and "KEY=VALUE" in result.output


def test_run_without_scenario_draws_from_the_pack_by_seed_like_the_api(tmp_path):
    import gymnasium as gym

    _, files = _run(tmp_path, "--episodes", "3", "--seed", "7", "--kw", "mode=distractor")
    recorded = [load_trajectory(path).header.scenario_id for path in files]
    env = gym.make("prm/search-qa-v0", mode="distractor")
    drawn = [env.reset(seed=7 + episode)[1]["scenario_id"] for episode in range(3)]
    assert recorded == drawn and len(set(recorded)) == 3


def test_runs_never_overwrite_and_say_where_they_wrote(tmp_path):
    first, files = _run(tmp_path, "--scenario", "5abf63f15542997ec76fd3ea")
    second, files = _run(tmp_path, "--scenario", "5abf63f15542997ec76fd3ea", "--seed", "1")
    assert [path.name for path in sorted(files)] == [
        "prm_search-qa-v0-5abf63f15542997ec76fd3ea-0000.2.jsonl",
        "prm_search-qa-v0-5abf63f15542997ec76fd3ea-0000.jsonl",
    ]
    assert sorted(load_trajectory(path).header.seed for path in files) == [0, 1]  # the first is kept
    assert f"wrote {files[0]}" in first.replace("\n", "") or f"wrote {tmp_path}" in first
    assert ".2.jsonl" in second


def test_replay_finds_a_scenario_given_by_relative_path_from_anywhere(tmp_path, monkeypatch):
    scenario = packaged_scenarios("search_qa").joinpath("hotpotqa_dev.jsonl").open().readline()
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    source = tmp_path / "work" / "questions.jsonl"
    source.write_text(scenario)
    assert runner.invoke(app, ["scenario", "import", "hotpotqa", str(source), "--out", "pack"]).exit_code == 0
    _, files = _run(tmp_path / "work" / "runs", "--scenario", "pack")
    header = load_trajectory(files[0]).header
    assert header.scenario_id.startswith("pack/") and header.scenario_path.startswith(str(tmp_path))

    monkeypatch.chdir(tmp_path)  # pack/... no longer resolves relative to here
    result = runner.invoke(app, ["replay", str(files[0])])
    assert result.exit_code == 0 and "identical" in result.output, result.output
    assert "content hash matches" in result.output and header.scenario_path in result.output.replace("\n", "")

    scenario_file = tmp_path / "work" / header.scenario_id
    scenario_file.write_text(scenario_file.read_text() + "\n")  # the same scenario, other bytes
    result = runner.invoke(app, ["replay", str(files[0])])
    assert result.exit_code == 2 and "has changed since the recording" in result.output


def test_list_family_shows_every_scenario_with_split_and_title_uncut_when_piped():
    result = runner.invoke(app, ["list", "search-qa"], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│ 5")]
    assert len(rows) == 600 and sum(" dev " in row for row in rows) == 300
    assert "│ 5abf63f15542997ec76fd3ea │ train │ Alexander Kerensky" in result.output
    swe = runner.invoke(app, ["list", "prm/swe-v0"], env={"COLUMNS": "40"})
    assert "more-itertools-always-iterable-none" in swe.output and "ordinalize(13)" in swe.output
    overview = runner.invoke(app, ["list"], env={"COLUMNS": "40"})
    assert "prm/search-qa-v0" in overview.output and "prm list FAMILY" in overview.output
    unknown = runner.invoke(app, ["list", "nope"])
    assert unknown.exit_code == 2 and "families:" in unknown.output
    assert all(name.replace("_", "-") in unknown.output for name in families())
