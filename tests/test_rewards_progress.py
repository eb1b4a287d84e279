"""ProgressReward and PotentialShaping with each estimator, on a real package in a LocalSandbox."""

from __future__ import annotations

import random

import pytest

from prm.agents import OracleAgent
from prm.errors import RewardSpecError
from prm.rewards import (
    Checklist,
    MonteCarlo,
    PotentialShaping,
    ProgressReward,
    Subgoal,
    TestPassFraction,
    apply_rewards,
    parse_spec,
)
from prm.rewards.checklist import parse_subgoals
from prm.rewards.provers import StochasticOracle
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


class RecordingProver(StochasticOracle):
    """A stochastic oracle that keeps what each rollout's reset gave it."""

    def __init__(self, p: float, seed: int):
        super().__init__(p, seed)
        self.resets: list[tuple[str, dict]] = []

    def reset(self, env, observation, info):
        self.resets.append((observation, info))
        super().reset(env, observation, info)


def test_monte_carlo_estimates_a_stochastic_provers_success_probability():
    """From the start state the oracle solves, V is the fraction of the n seeded coin flips that chose it."""
    n, p, seed = 30, 0.4, 3
    prover = RecordingProver(p, seed)
    env = ProgressReward(PackageEnv(), MonteCarlo(prover, n=n, horizon=3))
    first, _ = env.reset(seed=0)
    draws = random.Random(seed)
    expected = [sum(draws.random() < p for _ in range(n)) / n for _ in range(2)]
    assert prover.episodes == n  # n rollouts for V(s_0), not one
    _, _, _, _, info = env.step(action("view", path=CALC))
    assert prover.episodes == 2 * n
    assert info["progress_potential"] == {"before": expected[0], "after": expected[1]}
    assert 0.0 < expected[0] < 1.0 and abs(expected[0] - p) < 0.25  # a probability, near p
    # each rollout starts from the real first observation (task and tool manual), with the steps so far
    assert prover.resets[0] == (first, {"history": []})
    assert "write(" in first and prover.resets[n][0] == first
    assert prover.resets[n][1]["history"] == [(action("view", path=CALC), FILES[CALC])]
    env.close()


def test_the_prover_is_named_in_the_spec():
    env = apply_rewards(PackageEnv(), ["progress:mc:n=3,horizon=2,prover=stochastic_oracle:p=0.5,seed=9"])
    estimator = env.potential
    assert (estimator.n, estimator.horizon, repr(estimator.prover)) == (
        3,
        2,
        "StochasticOracle(p=0.5, seed=9)",
    )
    text = "progress:mc:n=3,prover=stochastic_oracle:p=0.5,seed=9"
    assert str(parse_spec(text)) == text  # the prover goes last: its spec holds ':' and ','
    with pytest.raises(RewardSpecError, match="put it last"):
        parse_spec("progress:mc:prover=stochastic_oracle:p=0.5,n=3")
    with pytest.raises(RewardSpecError, match="unknown prover 'telepathy'"):
        parse_spec("progress:mc:prover=telepathy")
    with pytest.raises(RewardSpecError, match="less than or equal to 1"):
        parse_spec("progress:mc:prover=stochastic_oracle:p=1.5")
    with pytest.raises(RewardSpecError, match="must be an Agent"):
        MonteCarlo(object())
    env.close()


def test_potential_shaping_is_policy_invariant_with_a_zero_terminal_potential():
    """Ng et al.: with phi(terminal) = 0 the discounted shaped return is the unshaped one minus phi(s_0), so two
    policies that reach the same outcome by different paths keep their difference in return."""
    gamma = 0.5
    short = [action("write", path=CALC, text=FIXED), action("submit")]
    long = [
        action("view", path=CALC),
        action("write", path=CALC, text=BROKEN_DOUBLE),
        action("write", path=CALC, text=FIXED),
        action("submit"),
    ]

    def discounted_returns(actions):
        env = PotentialShaping(PackageEnv(), TestPassFraction(), gamma=gamma)
        steps = play(env, actions)
        env.close()
        shaped = sum(gamma**t * reward for t, (_, reward, *_) in enumerate(steps))
        plain = sum(gamma**t * info["env_reward"] for t, (*_, info) in enumerate(steps))
        return shaped, plain, steps[-1][4]

    (short_shaped, short_plain, last), (long_shaped, long_plain, _) = map(discounted_returns, (short, long))
    assert last["outcome"]["reward"] == 1.0 and last["shaping_potential"]["after"] == 0.0
    assert short_plain != long_plain
    assert short_shaped - long_shaped == pytest.approx(short_plain - long_plain)


def test_a_truncated_episode_keeps_the_bootstrap_potential():
    env = PotentialShaping(PackageEnv(max_steps=1), TestPassFraction(), gamma=0.5)
    ((*_, truncated, info),) = play(env, [action("write", path=CALC, text=FIXED)])
    assert truncated and info["shaping_potential"] == {"before": 0.5, "after": 1.0}
    env.close()
