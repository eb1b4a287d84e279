"""ProgressReward and PotentialShaping with each estimator, on a real package in a LocalSandbox."""

from __future__ import annotations

import pytest

from prm.agents import OracleAgent
from prm.errors import RewardSpecError
from prm.rewards import Checklist, MonteCarlo, PotentialShaping, ProgressReward, Subgoal, TestPassFraction
from prm.rewards.checklist import parse_subgoals
from tests.reward_env import FILES, FIXED, PackageEnv, action

CALC = "pkg/calc.py"
BROKEN_DOUBLE = FILES[CALC].replace("2 * x", "3 * x")


def play(env, actions):
    env.reset(seed=0)
    return [env.step(act) for act in actions]


def test_test_pass_fraction_rewards_fixes_and_punishes_behaviour_breaks():
    env = ProgressReward(PackageEnv(), TestPassFraction())
    steps = play(
        env,
        [
            action("view", path=CALC),
            action("write", path=CALC, text=BROKEN_DOUBLE),  # breaks the pass_to_pass test
            action("write", path=CALC, text=FIXED),  # fixes the bug, restores double
            action("submit"),
        ],
    )
    progress = [info["reward_components"]["progress"] for *_, info in steps]
    assert progress == [0.0, -0.5, 1.0, 0.0]
    assert steps[2][4]["progress_potential"] == {"before": 0.0, "after": 1.0}
    assert env.unwrapped.sandbox is not None and env.unwrapped.sandbox.read_file(CALC).decode() == FIXED
    env.close()


def test_progress_telescopes_to_final_minus_initial_value():
    env = ProgressReward(PackageEnv(), TestPassFraction())
    actions = [
        action("write", path=CALC, text=FIXED),
        action("write", path=CALC, text=BROKEN_DOUBLE),
        action("view", path=CALC),
        action("write", path=CALC, text=FIXED.replace("2 * x", "3 * x")),
        action("submit"),
    ]
    steps = play(env, actions)
    infos = [info for *_, info in steps]
    progress = [info["reward_components"]["progress"] for info in infos]
    assert progress == [0.5, -1.0, 0.0, 0.5, 0.0]
    initial, final = infos[0]["progress_potential"]["before"], infos[-1]["progress_potential"]["after"]
    assert sum(progress) == pytest.approx(final - initial)
    env.close()


def test_potential_shaping_discounts_the_next_potential():
    env = PotentialShaping(PackageEnv(), TestPassFraction(), gamma=0.5)
    (*_, info), (*_, info2) = play(env, [action("write", path=CALC, text=FIXED), action("view", path=CALC)])
    assert info["reward_components"]["shaping"] == pytest.approx(0.5 * 1.0 - 0.5)
    assert info2["reward_components"]["shaping"] == pytest.approx(0.5 * 1.0 - 1.0)
    env.close()


def test_monte_carlo_with_the_oracle_prover_values_states():
    env = ProgressReward(PackageEnv(), MonteCarlo(OracleAgent(), n=2, horizon=5))
    env.reset(seed=0)
    # the oracle solves from the start state: V = 1
    _, _, _, _, info = env.step(action("view", path=CALC))
    assert info["progress_potential"] == {"before": 1.0, "after": 1.0}
    _, _, terminated, _, info = env.step(action("submit"))  # unsolved: V(final) = outcome = 0
    assert terminated and info["reward_components"]["progress"] == -1.0
    env.close()


def test_checklist_counts_subgoals_that_hold(tmp_path):
    goals = [
        Subgoal(description="fixed", file=CALC, contains="a + b"),
        Subgoal(description="checks pass", command="python check_add.py"),
        Subgoal(description="looked at calc", observed="def add"),
    ]
    env = ProgressReward(PackageEnv(), Checklist(goals))
    steps = play(env, [action("view", path=CALC), action("write", path=CALC, text=FIXED)])
    assert [info["progress_potential"]["after"] for *_, info in steps] == pytest.approx([1 / 3, 1.0])
    file = tmp_path / "goals.yaml"
    file.write_text("- {file: pkg/calc.py, contains: 'a + b'}\n")
    assert Checklist.from_file(file).subgoals[0].contains == "a + b"
    with pytest.raises(RewardSpecError, match="exactly one of"):
        parse_subgoals([{"file": CALC}], "goals.yaml")
    env.close()


def test_test_pass_needs_an_env_with_tests():
    import gymnasium as gym

    import prm  # noqa: F401

    with pytest.raises(RewardSpecError, match="needs an env with tests"):
        ProgressReward(gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62"), TestPassFraction())


def test_checklist_reads_the_subgoals_a_scenario_declares():
    import gymnasium as gym

    import prm  # noqa: F401
    from prm.envs.search_qa.scenarios import load_pack

    scenario = load_pack()["5a8ce55f554299441c6b9f62"].model_copy(
        update={"subgoals": [Subgoal(observed="Tinted Windows (band)"), Subgoal(observed="Tulsa")]}
    )
    env = ProgressReward(gym.make("prm/search-qa-v0", scenario=scenario, mode="distractor"), Checklist())
    env.reset(seed=0)
    _, _, _, _, info = env.step(action("search", query="Tinted Windows band", k=3))
    assert info["progress_potential"]["before"] == 0.0 and info["progress_potential"]["after"] >= 0.5
    assert info["reward_components"]["progress"] >= 0.5

    plain = ProgressReward(gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62"), Checklist())
    with pytest.raises(RewardSpecError, match="declares no subgoals"):
        plain.reset(seed=0)
