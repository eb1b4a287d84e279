"""Property-based fuzzing of action strings (hypothesis) for `prm/swe-v0` (real Docker) and `prm/search-qa-v0`.

Whatever text a policy emits, `step()` returns (never raises, never hangs past the step's own timeout plus a
margin), the observation is a string, and a failure of the agent's making is never an infrastructure error.
"""

from __future__ import annotations

import json
import threading

import gymnasium as gym
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import prm  # noqa: F401  (registers the env ids)

STEP_MARGIN_S = 300.0
"""A hang guard, not a speed goal: far above any step's own timeout on a loaded machine."""

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)


def tool_calls(tools: dict[str, list[str]]) -> st.SearchStrategy[str]:
    """JSON tool calls with the family's tool names and argument names, and arbitrary values."""
    calls = st.sampled_from(sorted(tools)).flatmap(
        lambda tool: st.fixed_dictionaries(
            {
                "tool": st.just(tool),
                "args": st.fixed_dictionaries({}, optional=dict.fromkeys(tools[tool], values)),
            }
        )
    )
    return calls.map(json.dumps) | calls.map(lambda call: json.dumps(call, ensure_ascii=False))


def any_action(tools: dict[str, list[str]]) -> st.SearchStrategy[str]:
    junk = st.text(max_size=300) | st.binary(max_size=100).map(lambda b: b.decode("utf-8", "surrogateescape"))
    prose = st.tuples(st.text(max_size=20), tool_calls(tools), st.text(max_size=20)).map("".join)
    cut = tool_calls(tools).flatmap(lambda text: st.integers(0, len(text)).map(lambda n: text[:n]))
    return junk | tool_calls(tools) | prose | cut


def step_within(env, action: str, limit: float) -> tuple:
    """`env.step(action)` in a thread; fails the test if it does not return within `limit` seconds."""
    box: dict = {}

    def run() -> None:
        try:
            box["result"] = env.step(action)
        except BaseException as err:  # reported below, with the action
            box["error"] = err

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit)
    assert not thread.is_alive(), f"step() did not return within {limit} s for {action[:200]!r}"
    if "error" in box:
        raise AssertionError(f"step() raised for {action[:200]!r}") from box["error"]
    return box["result"]


def check_step(env, action: str) -> None:
    observation, reward, terminated, truncated, info = step_within(env, action, STEP_MARGIN_S)
    assert isinstance(observation, str) and isinstance(reward, float)
    assert not info["infra_error"], (action[:200], info["error"])
    if terminated or truncated:
        env.reset(seed=0)


SWE_TOOLS = {
    "bash": ["command", "timeout"],
    "view": ["path", "start_line", "end_line"],
    "edit": ["path", "old", "new"],
    "search": ["pattern", "path"],
    "submit": [],
    "nope": ["x"],
}


@pytest.fixture(scope="module")
def swe_env(docker_engine):
    env = gym.make("prm/swe-v0", scenario="toolz-groupby-key", sandbox="docker")
    env.reset(seed=0)
    yield env
    env.close()


@pytest.mark.docker
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=any_action({**SWE_TOOLS, "bash": ["command"]}))  # bash keeps its default timeout
def test_swe_steps_never_raise_or_hang(swe_env, action):
    check_step(swe_env, action)


SEARCH_TOOLS = {"search": ["query", "k"], "open": ["doc_id"], "answer": ["text"], "nope": ["x"]}


@pytest.fixture(scope="module")
def search_env():
    env = gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62", mode="distractor")
    env.reset(seed=0)
    yield env
    env.close()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=any_action(SEARCH_TOOLS))
def test_search_qa_steps_never_raise_or_hang(search_env, action):
    check_step(search_env, action)


def test_search_qa_observations_are_capped():
    env = gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62", mode="distractor")
    env.reset(seed=0)
    observation, *_, info = env.step(json.dumps({"tool": "open", "args": {"doc_id": "x" * 10_000_000}}))
    assert info["error"] and len(observation) < 25_000 and len(info["error"]) < 25_000
    env.close()
