"""The step contract that `PrmEnv` gives every family, checked on a minimal family defined here."""

import pytest
from gymnasium.utils.env_checker import check_env

from prm.env import MAX_CHANGED_FILES
from prm.tools import Tool, ToolResult
from tests.guess_env import GuessEnv, NoArgs, call


def test_check_env_passes():
    check_env(GuessEnv(max_steps=5), skip_render_check=True)


def test_info_contract_and_outcome():
    env = GuessEnv(max_steps=5, reward_weights={"hint": -0.1})
    env.reset(seed=3)
    _, reward, terminated, truncated, info = env.step(call("hint"))
    assert (reward, terminated, truncated) == (pytest.approx(-0.1), False, False)
    assert {"reward_components", "tool", "error", "infra_error", "changed_files", "step"} <= info.keys()
    assert info["tool"] == "hint" and info["error"] is None and info["infra_error"] is False
    _, reward, terminated, truncated, info = env.step(env.oracle_actions()[0])
    assert (reward, terminated, truncated) == (1.0, True, False)
    assert info["outcome"] == {"reward": 1.0, "correct": True}
    with pytest.raises(RuntimeError, match="reset"):
        env.step(call("hint"))


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("hello", "no JSON object"),
        (call("fly"), "unknown tool 'fly'"),
        (call("guess", number="x"), "bad arguments"),
    ],
)
def test_malformed_action_is_a_counted_step_not_an_exception(action, message):
    env = GuessEnv(max_steps=5)
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step(action)
    assert message in observation and message in info["error"]
    assert info["reward_components"] == {"invalid_action": 1.0}
    assert info["step"] == 1 and not (terminated or truncated)


def test_step_budget_truncates_and_still_grades():
    env = GuessEnv(max_steps=2)
    env.reset(seed=0)
    env.step(call("hint"))
    _, _, terminated, truncated, info = env.step(call("hint"))
    assert (terminated, truncated) == (False, True)
    assert info["outcome"]["correct"] is False


def test_infrastructure_failure_is_flagged_not_scored():
    env = GuessEnv(max_steps=5)
    env.reset(seed=0)
    observation, reward, terminated, truncated, info = env.step(call("crash"))
    assert info["infra_error"] is True and truncated and not terminated
    assert info["outcome"] == {"reward": None, "infra_error": "container died"}
    assert "outcome" not in info["reward_components"]
    assert "not your fault" in observation


class ManyFilesEnv(GuessEnv):
    """GuessEnv with a tool whose step changes more files than `changed_files` lists (found by the battery's
    "a million files")."""

    def _tools(self):
        def touch(_):
            return ToolResult("made", changed_files=[f"many/{i:06d}" for i in range(MAX_CHANGED_FILES + 5)])

        return [*super()._tools(), Tool("touch", "Make many files.", NoArgs, touch)]


def test_changed_files_are_capped_and_the_cut_counted():
    env = ManyFilesEnv(max_steps=5)
    env.reset(seed=0)
    *_, info = env.step(call("touch"))
    assert len(info["changed_files"]) == MAX_CHANGED_FILES and info["changed_files"][0] == "many/000000"
    assert info["changed_files_cut"] == 5
    *_, info = env.step(call("hint"))
    assert "changed_files_cut" not in info
