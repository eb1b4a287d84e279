"""ValueModel: fitted by `prm train-value` on Monte Carlo labels, then used as the progress estimator."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from prm.agents import OracleAgent, ScriptedAgent
from prm.cli import app
from prm.errors import RewardSpecError
from prm.rewards import ProgressReward, apply_rewards
from prm.rewards.state_text import state_text
from prm.rewards.value_model import ValueModel, fit_value_model, monte_carlo_dataset
from prm.rollout import run_episode
from tests.reward_env import FILES, PackageEnv, action

FAILING = [
    action("view", path="pkg/calc.py"),
    action("write", path="notes.txt", text="todo"),
    action("submit"),
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("runs")
    env = PackageEnv()
    for i in range(3):
        run_episode(env, OracleAgent(), seed=i, out=folder / f"solved{i}.jsonl")
        run_episode(env, ScriptedAgent(FAILING), seed=i, out=folder / f"failed{i}.jsonl")
    env.close()
    return folder


def test_monte_carlo_labels_are_episode_outcomes(recorded):
    from prm import load_trajectory

    texts, labels = monte_carlo_dataset([load_trajectory(recorded / "solved0.jsonl")])
    assert labels == [1.0, 1.0, 1.0] and len(texts) == 3 and texts[0] in texts[2]


def test_train_value_cli_fits_a_model_that_ranks_states_by_outcome(recorded, tmp_path):
    out = tmp_path / "value.pt"
    result = CliRunner().invoke(app, ["train-value", str(recorded), "--out", str(out), "--epochs", "150"])
    assert result.exit_code == 0, result.output
    assert "trained on 21 states from 6 trajectories" in result.output
    model = ValueModel.load(out)
    env = PackageEnv()
    env.reset(seed=0)
    env.step(action("write", path="pkg/calc.py", text=FILES["pkg/calc.py"].replace("a - b", "a + b")))
    solved_like = model.value(env, None)
    env.reset(seed=0)
    env.step(FAILING[0])
    env.step(FAILING[1])
    failed_like = model.value(env, None)
    assert solved_like > 0.5 > failed_like
    wrapped = apply_rewards(PackageEnv(), [f"progress:value:model={out}"])
    assert isinstance(wrapped, ProgressReward) and isinstance(wrapped.potential, ValueModel)
    wrapped.reset(seed=0)
    *_, info = wrapped.step(FAILING[0])
    env.reset(seed=0)
    assert info["progress_potential"]["before"] == pytest.approx(model.predict([state_text(env)])[0])
    wrapped.close()
    env.close()


def test_unusable_model_files_and_training_sets_are_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_text("not a model")
    with pytest.raises(RewardSpecError, match="cannot load value model"):
        ValueModel.load(bad)
    with pytest.raises(RewardSpecError, match="no trajectory with an outcome"):
        fit_value_model([])
