"""Attacks on `prm/gui-v0`: the agent reads hidden material, injects shell through actions, forges the grader's
inputs, tries to force an infrastructure error, floods the input."""

from __future__ import annotations

import json

import pytest

from prm.envs.gui.env import GuiEnv
from prm.envs.gui.hostile import TYPED_SHELL

pytestmark = pytest.mark.docker


def call(tool: str, **args) -> str:
    return json.dumps({"tool": tool, "args": args})


@pytest.fixture(scope="module")
def env(docker_engine):
    env = GuiEnv("galculator-chain")
    yield env
    env.close()


def test_hidden_checks_and_oracle_never_enter_the_sandbox(env):
    env.reset(seed=0)
    hidden = json.dumps(env.scenario.model_dump(include={"checks", "oracle"}))
    found = env.sandbox.exec("grep -rls -e '125+75=' -e 'equals' /workspace /tmp /opt 2>/dev/null; true")
    assert found.stdout == "", (found.stdout, hidden)


def test_typed_shell_syntax_is_only_text(env):
    env.reset(seed=0)
    for tool, args in TYPED_SHELL:
        _, _, _, _, info = env.step(call(tool, **args))
        assert not info["infra_error"]
    assert env.sandbox.exec("ls /workspace").stdout == ""


def test_agent_cannot_forge_an_answer_check_with_the_clipboard_alone(env):
    env.reset(seed=0)
    for action in env.oracle_actions()[:-1]:  # the calculator's result really is on the clipboard
        env.step(action)
    _, _, terminated, _, info = env.step(call("done", answer="I think it's twenty-five"))
    assert terminated and info["outcome"]["checks"] == [True, False] and info["outcome"]["reward"] == 0.0


def test_zap_and_close_keys_are_not_infrastructure_failures(env):
    env.reset(seed=0)
    for combo in ("ctrl+alt+BackSpace", "ctrl+alt+Delete", "alt+F4", "ctrl+q"):
        obs, _, terminated, truncated, info = env.step(call("key", combo=combo))
        assert not info["infra_error"] and not (terminated or truncated), (combo, info)
    while "(no windows)" not in obs["text"] and len(env.history) < 15:  # closing may land a step later
        obs = env.step(call("wait", seconds=1))[0]
    assert "The application 'galculator' exited" in "".join(text for _, text in env.history)
    _, _, terminated, _, info = env.step(call("done", answer="25"))
    assert terminated and info["infra_error"] is False and info["outcome"]["reward"] == 0.0


def test_flooding_input_is_refused_before_reaching_the_display(env):
    env.reset(seed=0)
    obs, _, _, _, info = env.step(call("type", text="9" * 5000))
    assert "at most 2000 characters" in info["error"] and info["reward_components"]["invalid_action"] == 1.0
    obs, _, _, _, info = env.step(call("scroll", x=10, y=10, direction="down", amount=10_000))
    assert "amount" in info["error"]
    obs, _, _, _, info = env.step(call("click", id="e1; rm -rf /"))
    assert "id" in info["error"] and not info["infra_error"]
