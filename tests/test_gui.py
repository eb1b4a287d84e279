"""`prm/gui-v0` end to end: real Xvfb, openbox, Mousepad, Gnumeric and Galculator in Docker (one cached image)."""

from __future__ import annotations

import base64
import json
import zlib
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import prm  # noqa: F401  (registers the env ids)
from prm.envs.gui.desktop import decode_screenshot
from prm.envs.gui.env import GuiEnv
from prm.envs.gui.scenario import load_gui_scenario, scenario_ids
from prm.errors import SandboxError, ScenarioError
from prm.scenario import packaged_scenarios


def call(tool: str, **args) -> str:
    return json.dumps({"tool": tool, "args": args})


def play(env, actions):
    info = {}
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        assert info["error"] is None and not info["infra_error"], info
        if terminated or truncated:
            break
    return obs, reward, info


@pytest.fixture(scope="module")
def env(docker_engine):
    env = gym.make("prm/gui-v0", scenario="mousepad-greeting", rewards=["progress:checklist"])
    yield env
    env.close()


# --- scenario files (no Docker) ----------------------------------------------------------------------------
def test_pack_loads_and_covers_three_applications():
    ids = scenario_ids()
    assert len(ids) >= 12
    apps = {app.name for scenario_id in ids for app in load_gui_scenario(scenario_id).apps}
    assert {"mousepad", "gnumeric", "galculator"} <= apps


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"files": {"/etc/passwd": "x"}}, "files"),
        ({"checks": [{"cell": "B2", "equals": "1"}]}, "checks.0"),
        ({"checks": [{"answer": True, "clipboard": True, "equals": "1"}]}, "checks.0"),
        ({"oracle": [{"tool": "type", "args": {"text": "x"}}]}, "<root>"),
        ({"apps": []}, "apps"),
    ],
)
def test_bad_scenario_files_name_the_field(tmp_path: Path, change, field):
    import yaml

    data = yaml.safe_load((packaged_scenarios("gui") / "mousepad-greeting.yaml").read_text()) | change
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError) as err:
        load_gui_scenario(bad)
    assert err.value.file == str(bad) and err.value.field == field


# --- the screenshot's wire format (no Docker) ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "no readable screenshot"),
        ("not base64!", "no readable screenshot"),
        (base64.b64encode(b"not zlib").decode(), "no readable screenshot"),
        (base64.b64encode(zlib.compress(bytes(4 * 800 * 599))).decode(), "1916800 bytes, not 1920000"),
        (
            base64.b64encode(zlib.compress(bytes(200_000_000), 9)).decode(),
            "1920001 bytes, not 1920000",
        ),  # a bomb
    ],
)
def test_a_malformed_screenshot_is_an_infrastructure_error(data, message):
    with pytest.raises(SandboxError, match=message):
        decode_screenshot(data, 800, 600)


# --- the env ----------------------------------------------------------------------------------------------
def test_check_env_passes(env):
    check_env(env.unwrapped, skip_render_check=True)


def test_observation_has_screenshot_windows_and_accessibility_tree(env):
    obs, info = env.reset(seed=0)
    assert obs["screenshot"].shape == (600, 800, 3) and obs["screenshot"].dtype == np.uint8
    assert obs["screenshot"].std() > 0  # a real picture, not a blank frame
    text = obs["text"]
    assert "Hello, world" in text and "type(text)" in text  # the instruction and the tool manual
    assert "notes.txt" in text and "[focused]" in text
    assert "Accessibility tree" in text and "[e1]" in text and "menu 'File'" in text


def test_oracle_solves_and_checklist_progress_moves(env):
    env.reset(seed=0)
    oracle = env.unwrapped.oracle_actions()
    obs, _, info = play(env, oracle[:1])
    assert "Hello, world" in obs["text"]  # the typed text, read back through AT-SPI
    typed = info["reward_components"]["progress"]
    assert typed > 0
    obs, reward, info = play(env, oracle[1:])
    assert info["outcome"]["reward"] == 1.0 and reward >= 1.0
    assert env.unwrapped.sandbox.read_file("notes.txt").decode().strip() == "Hello, world"


def test_done_without_work_scores_zero(env):
    env.reset(seed=0)
    _, _, info = play(env, [call("done")])
    assert info["outcome"] == {"reward": 0.0, "checks": [False], "answer": ""}


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (call("click", x=800, y=10), "outside the screen"),
        (call("click", x=-1, y=10), "outside the screen"),
        (call("drag", x=1, y=1, to_x=5, to_y=9000), "outside the screen"),
        (call("click", id="e9999"), "unknown element id"),
        (call("key", combo="ctrl+notakey"), "unknown key 'notakey'"),
        (call("click", x=5), "give x and y, or id"),
        (call("scroll", x=5, y=5, direction="sideways"), "direction"),
        (call("wait", seconds=60), "seconds"),
    ],
)
def test_bad_actions_are_invalid_with_an_explanation(env, action, message):
    env.reset(seed=0)
    obs, _, terminated, truncated, info = env.step(action)
    assert message in info["error"] and message in obs["text"]
    assert info["reward_components"]["invalid_action"] == 1.0 and not info["infra_error"]
    assert obs["screenshot"].shape == (600, 800, 3) and not (terminated or truncated)


def test_click_by_element_id(env):
    obs, _ = env.reset(seed=0)
    line = next(line for line in obs["text"].splitlines() if "menu 'File'" in line)
    element = line.split("[")[1].split("]")[0]
    obs, _, _, _, info = env.step(call("click", id=element))
    assert info["error"] is None
    assert "menu item 'Save'" in obs["text"] or "Save" in obs["text"]  # the File menu opened


def test_pointer_actions_reach_the_application(env):
    env.reset(seed=0)  # Mousepad's text area starts at (81, 95); its first line is at y = 104
    obs, _, _ = play(env, [call("type", text="alpha beta"), call("double_click", x=95, y=104)])
    obs, _, _ = play(env, [call("type", text="gamma")])
    assert "text='gamma beta'" in obs["text"]  # the double click selected the word under it
    obs, _, _ = play(env, [call("drag", x=84, y=104, to_x=700, to_y=104), call("type", text="delta")])
    assert "text='delta'" in obs["text"]  # the drag selected the line
    obs, _, _ = play(env, [call("right_click", x=300, y=300)])
    assert "menu item 'Select All" in obs["text"]  # the context menu opened


def test_scroll_moves_the_spreadsheet(docker_engine):
    with GuiEnv("gnumeric-enter-value") as env:
        top, _ = env.reset(seed=0)
        scrolled, _, _ = play(env, [call("scroll", x=400, y=350, direction="down", amount=5)])
        assert not np.array_equal(top["screenshot"], scrolled["screenshot"])


def test_closed_application_is_explained_not_an_infra_error(env):
    env.reset(seed=0)
    obs, _, terminated, truncated, info = env.step(call("key", combo="ctrl+q"))
    assert not info["infra_error"] and not (terminated or truncated)
    observed = [obs["text"]]
    while "exited" not in observed[-1] and len(observed) < 15:  # the exit may land a step later
        observed.append(env.step(call("wait", seconds=1))[0]["text"])
    assert "The application 'mousepad' exited" in observed[-1] and "(no windows)" in observed[-1]


def test_dead_display_is_infra_error_and_reset_recovers(env):
    env.reset(seed=0)
    env.unwrapped.sandbox.exec("kill -9 $(pgrep -x Xvfb)")
    _, _, terminated, truncated, info = env.step(call("click", x=10, y=10))
    assert info["infra_error"] and truncated and not terminated
    assert info["outcome"]["reward"] is None
    obs, _ = env.reset(seed=0)
    assert "notes.txt" in obs["text"]


def test_fork_keeps_saved_files_and_restarts_the_application(env):
    env.reset(seed=0)
    play(env, [call("type", text="saved line"), call("key", combo="ctrl+s"), call("type", text=" unsaved")])
    clone = env.unwrapped.fork()
    try:
        assert clone.sandbox.read_file("notes.txt").decode() == "saved line"
        obs = clone.step(call("wait", seconds=0.2))[0]
        assert "saved line" in obs["text"] and "unsaved" not in obs["text"]  # in-memory edits do not survive
        assert "unsaved" in env.step(call("wait", seconds=0.2))[0]["text"]  # the original is untouched
    finally:
        clone.close()


@pytest.mark.parametrize("scenario_id", ["gnumeric-enter-value", "galculator-multiply"])
def test_oracle_solves_spreadsheet_and_calculator(docker_engine, scenario_id):
    with GuiEnv(scenario_id) as env:
        env.reset(seed=0)
        _, reward, info = play(env, env.oracle_actions())
        assert info["outcome"]["reward"] == 1.0 and reward == 1.0


def test_validate_rejects_a_solved_start_and_accepts_the_oracle(docker_engine, tmp_path: Path):
    import yaml

    from prm.envs.gui.validate import validate_scenario_file

    good = packaged_scenarios("gui") / "mousepad-greeting.yaml"
    solved = tmp_path / "solved.yaml"
    data = yaml.safe_load(good.read_text()) | {"files": {"notes.txt": "Hello, world"}}
    solved.write_text(yaml.safe_dump(data))
    result = validate_scenario_file(solved)
    assert not result.ok and "already holds at the start state" in result.problem
    result = validate_scenario_file(good)
    assert result.ok and result.oracle_steps == 3, result.problem
