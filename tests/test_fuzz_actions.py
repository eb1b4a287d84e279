"""Property-based fuzzing of action strings (hypothesis) for `prm/swe-v0` (real Docker) and `prm/search-qa-v0`.

Whatever text a policy emits, `step()` returns (never raises, never hangs past the step's own timeout plus a
margin), the observation is a string, and a failure of the agent's making is never an infrastructure error.
"""

from __future__ import annotations

import json

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings

import prm  # noqa: F401  (registers the env ids)
from prm.bench.fuzz_actions import any_action
from prm.bench.hostile import STEP_LIMIT_S, step_within
from prm.envs.search_qa import hostile as search_qa
from prm.envs.swe import hostile as swe


def check_step(env, action: str) -> None:
    observation, reward, terminated, truncated, info = step_within(env, action, STEP_LIMIT_S)
    assert isinstance(observation, str) and isinstance(reward, float)
    assert not info["infra_error"], (action[:200], info["error"])
    if terminated or truncated:
        env.reset(seed=0)


@pytest.fixture(scope="module")
def swe_env(docker_engine):
    env = gym.make("prm/swe-v0", scenario="toolz-groupby-key", sandbox="docker")
    env.reset(seed=0)
    yield env
    env.close()


@pytest.mark.docker
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=any_action(swe.TARGET.fuzz_tools))  # bash keeps its default timeout
def test_swe_steps_never_raise_or_hang(swe_env, action):
    check_step(swe_env, action)


@pytest.fixture(scope="module")
def search_env():
    env = gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62", mode="distractor")
    env.reset(seed=0)
    yield env
    env.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=any_action(search_qa.TARGET.fuzz_tools))
def test_search_qa_steps_never_raise_or_hang(search_env, action):
    check_step(search_env, action)


def test_search_qa_observations_are_capped():
    env = gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62", mode="distractor")
    env.reset(seed=0)
    observation, *_, info = env.step(json.dumps({"tool": "open", "args": {"doc_id": "x" * 10_000_000}}))
    assert info["error"] and len(observation) < 25_000 and len(info["error"]) < 25_000
    env.close()
