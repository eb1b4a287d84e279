"""Reward specs: parsing, errors at construction, wrapping order, and `gymnasium.make(..., rewards=[...])`."""

from __future__ import annotations

import gymnasium as gym
import pytest

import prm  # noqa: F401  (registers the env ids)
from prm.errors import RewardSpecError
from prm.rewards import (
    GatedAccumulation,
    InformationGain,
    LSPDiagnostics,
    MinForm,
    ProgressReward,
    apply_rewards,
)
from prm.rewards.spec import GatedSpec, ProgressSpec, ShapingSpec, parse_spec, parse_specs
from tests.reward_env import PackageEnv

QUESTION = "5a8ce55f554299441c6b9f62"


def test_specs_parse_into_typed_models_and_print_back():
    assert parse_spec("progress:mc:n=4") == ProgressSpec(estimator="mc", n=4)
    assert parse_spec("gated:threshold=1.0") == GatedSpec(threshold=1.0)
    assert parse_spec("shaping:gamma=0.9,phi=checklist") == ShapingSpec(gamma=0.9, estimator="checklist")
    for text in ["lsp:w_warn=0.0", "progress:mc:n=8", "info_gain:lm:model=/m", "clip:max=2.0", "minform"]:
        assert str(parse_spec(text)) == text
        assert parse_spec(str(parse_spec(text))) == parse_spec(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("farming", "unknown reward 'farming'"),
        ("lsp:w_typo=1", "unknown parameter 'w_typo'"),
        ("gated:threshold=high", "'threshold': Input should be a valid number"),
        ("progress:oracle", "'estimator'"),
        ("progress:test_pass:n=4", "n do not apply to the 'test_pass' estimator"),
        ("progress:value", "needs model=PATH"),
        ("info_gain:scorer=lm", "needs model="),
        ("lsp:1", "unexpected '1'"),
        ("", "non-empty"),
    ],
)
def test_bad_specs_name_what_is_wrong(text, message):
    with pytest.raises(RewardSpecError, match=message):
        parse_spec(text)


def test_duplicate_aggregators_are_refused():
    with pytest.raises(RewardSpecError, match="more than once"):
        parse_specs(["gated", "gated:threshold=0.5"])


def test_signals_wrap_inside_and_aggregators_outside_whatever_the_order():
    env = apply_rewards(PackageEnv(), ["minform", "gated:threshold=1", "lsp", "progress:test_pass"])
    chain = []
    while isinstance(env, gym.Wrapper):
        chain.append(type(env))
        env = env.env
    assert chain == [MinForm, GatedAccumulation, ProgressReward, LSPDiagnostics]
    env.close()


def test_a_spec_that_does_not_fit_the_env_fails_at_construction():
    with pytest.raises(RewardSpecError, match="gold answer"):
        apply_rewards(PackageEnv(), ["info_gain"])
    with pytest.raises(RewardSpecError, match="needs an env with tests"):
        gym.make("prm/search-qa-v0", scenario=QUESTION, rewards=["progress:test_pass"])
    with pytest.raises(RewardSpecError, match="lsp needs an env with a sandbox hook"):
        gym.make("prm/search-qa-v0", scenario=QUESTION, rewards=["lsp"])
    with pytest.raises(RewardSpecError, match="cannot load scorer model '/nonexistent/model'"):
        gym.make("prm/search-qa-v0", scenario=QUESTION, rewards=["info_gain:lm:model=/nonexistent/model"])


def test_make_accepts_rewards():
    env = gym.make("prm/search-qa-v0", scenario=QUESTION, rewards=["info_gain", "gated:threshold=0.5"])
    assert isinstance(env.unwrapped, prm.envs.search_qa.env.SearchQAEnv)
    assert any(isinstance(w, InformationGain) for w in _wrappers(env))
    env.reset(seed=0)
    _, reward, *_, info = env.step('{"tool": "search", "args": {"query": "Tinted Windows band"}}')
    assert info["reward_components"]["info_gain"] > 0 and reward == 0.0  # withheld by the gate
    with pytest.raises(RewardSpecError, match="unknown reward"):
        gym.make("prm/search-qa-v0", scenario=QUESTION, rewards=["nope"])


def test_a_single_spec_string_is_one_spec_not_its_letters():
    env = gym.make("prm/search-qa-v0", scenario=QUESTION, rewards="info_gain")
    assert [type(w) for w in _wrappers(env) if type(w).__module__.startswith("prm.")] == [InformationGain]
    env.close()
    assert [str(spec) for spec in parse_specs("gated:threshold=0.5")] == ["gated:threshold=0.5"]
    with pytest.raises(RewardSpecError, match="unknown reward 'lps'"):  # not "unknown reward 'l'"
        gym.make("prm/search-qa-v0", scenario=QUESTION, rewards="lps")


def _wrappers(env):
    while isinstance(env, gym.Wrapper):
        yield env
        env = env.env
