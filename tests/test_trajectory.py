import json

import numpy as np
import pytest

from prm import load_trajectory, write_trajectory
from prm.errors import TrajectoryError
from prm.models import OutcomeRecord, StepRecord, Trajectory, TrajectoryHeader
from prm.trajectory import TrajectoryWriter


def _trajectory() -> Trajectory:
    header = TrajectoryHeader(
        env_id="prm/swe-v0",
        scenario_id="toolz-groupby-key",
        seed=7,
        prm_version="0.1.0",
        env_kwargs={"sandbox": "docker"},
        reward_config=["lsp", "gated:threshold=1.0"],
        initial_observation="Fix the bug ✓",
    )
    steps = [
        StepRecord(
            index=i,
            action=json.dumps({"tool": "bash", "args": {"command": f"echo {i}"}}),
            observation=f"{i}\n\ttabs and unicode: é",
            reward=0.1 * i + 1e-17,
            reward_components={"lsp": -0.3333333333333333, "outcome": 0.0},
            terminated=i == 2,
            info={"tool": "bash", "error": None, "infra_error": False, "nested": {"a": [1, 2.5, None]}},
        )
        for i in range(3)
    ]
    outcome = OutcomeRecord(outcome={"resolved": True, "reward": 1.0}, total_reward=0.3, num_steps=3)
    return Trajectory(header=header, steps=steps, outcome=outcome)


def test_round_trip_is_lossless(tmp_path):
    original = _trajectory()
    path = write_trajectory(tmp_path / "t.jsonl", original)
    assert load_trajectory(path) == original
    lines = path.read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["header", "step", "step", "step", "outcome"]


def test_steps_survive_a_crash_mid_episode(tmp_path):
    path = tmp_path / "crash.jsonl"
    writer = TrajectoryWriter(path, _trajectory().header)
    writer.write_step(_trajectory().steps[0])
    # no close(), no outcome: the process "dies" here; the flushed lines are on disk
    loaded = load_trajectory(path)
    assert len(loaded.steps) == 1 and loaded.outcome is None
    writer.close()


def test_numpy_values_are_stored_as_plain_json(tmp_path):
    step = StepRecord(
        index=0, action="{}", observation="x", reward=np.float32(0.5), info={"arr": np.arange(3)}
    )
    header = _trajectory().header
    with TrajectoryWriter(tmp_path / "n.jsonl", header) as writer:
        writer.write_step(step)
    assert load_trajectory(tmp_path / "n.jsonl").steps[0].info["arr"] == [0, 1, 2]


def test_bad_line_names_file_and_line(tmp_path):
    path = write_trajectory(tmp_path / "t.jsonl", _trajectory())
    path.write_text(path.read_text() + '{"type": "step", "index": "not a number"}\n')
    with pytest.raises(TrajectoryError, match=r"t\.jsonl:6"):
        load_trajectory(path)


def test_missing_header_and_missing_file(tmp_path):
    path = tmp_path / "noheader.jsonl"
    path.write_text(_trajectory().steps[0].model_dump_json() + "\n")
    with pytest.raises(TrajectoryError, match="no header"):
        load_trajectory(path)
    with pytest.raises(TrajectoryError, match="no such trajectory"):
        load_trajectory(tmp_path / "absent.jsonl")


def test_lone_surrogates_and_nul_bytes_are_written_losslessly(tmp_path):
    original = _trajectory()
    original.steps[0].action = '{"tool": "edit", "args": {"new": "\ud800 \x00"}}'
    original.steps[1].info["outside_writes"] = ["/tmp/\udcff"]
    path = write_trajectory(tmp_path / "t.jsonl", original)
    assert load_trajectory(path) == original


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda data: data[: len(data) - 40], r"t\.jsonl:5: .*cut off"),
        (lambda data: data.replace(b'"step"', b'"st\xff"', 1), r"t\.jsonl:2: not UTF-8"),
    ],
)
def test_truncated_or_unreadable_file_is_an_error_naming_the_line(tmp_path, damage, message):
    path = write_trajectory(tmp_path / "t.jsonl", _trajectory())
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(TrajectoryError, match=message):
        load_trajectory(path)
