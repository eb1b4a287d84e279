"""prm/web-v0 in a real headless Chromium (Debian's): MiniWoB++ pages with their own JavaScript rewards,
authored apps graded on their saved state, observations, vector envs, forks, asyncio callers."""

import asyncio
import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import prm  # noqa: F401
from prm.envs.web.browser import SharedBrowser
from prm.envs.web.env import WebEnv
from prm.envs.web.oracle import MINIWOB_SOLVERS, Oracle, parse_tree, solve
from prm.envs.web.server import PageServer

APPS = [
    "app.shop-checkout",
    "app.todo-update",
    "app.signup-form",
    "app.settings-privacy",
    "app.catalog-filter",
]
MINIWOB = [sid for sid in WebEnv.scenario_ids() if sid.startswith("miniwob.")]


def act(tool, **args):
    return json.dumps({"tool": tool, "args": args})


def test_pack_registers_thirty_miniwob_tasks_and_fifteen_oracles():
    assert len(MINIWOB) >= 30
    solvable = [sid for sid in MINIWOB if sid.removeprefix("miniwob.") in MINIWOB_SOLVERS]
    assert len(solvable) >= 15


def test_every_registered_miniwob_task_starts_with_live_javascript():
    """One page visits every task: the task's own JavaScript draws a problem and states its goal."""
    browser, server = SharedBrowser.get(), PageServer.get()
    context = browser.context()

    async def visit_all():
        page = await context.new_page()
        live = {}
        for sid in MINIWOB:
            await page.goto(server.url(f"/miniwob/miniwob/{sid.removeprefix('miniwob.')}.html"))
            live[sid] = await page.evaluate(
                "() => { Math.seedrandom('0'); core.startEpisodeReal();"
                " return [core.getUtterance(), WOB_DONE_GLOBAL, typeof core.endEpisode]; }"
            )
        return live

    try:
        live = browser.call(visit_all)
    finally:
        browser.call(context.close)
    assert {sid: state[1:] for sid, state in live.items()} == {sid: [False, "function"] for sid in MINIWOB}
    assert all(len(state[0]) > 5 for state in live.values()), live


@pytest.mark.parametrize("sid", ["miniwob.click-checkboxes", "miniwob.choose-list", "miniwob.login-user"])
def test_oracle_solves_miniwob_tasks_with_the_pages_own_reward(sid):
    env = gym.make("prm/web-v0", scenario=sid)
    try:
        info = solve(env, seed=3)
        assert info["outcome"] == {"reward": 1.0, "raw_reward": pytest.approx(1.0), "done": True}
        assert info["reward_components"]["outcome"] == 1.0 and not info["infra_error"]
    finally:
        env.close()


def test_a_wrong_miniwob_answer_scores_zero_from_the_page():
    env = gym.make("prm/web-v0", scenario="miniwob.click-button")
    try:
        observation, _ = env.reset(seed=1)
        wanted = Oracle(env.unwrapped.scenario).next_action(observation)
        wrong = next(
            n for n in parse_tree(observation) if n.role == "button" and f'"id": {n.id}}}' not in wanted
        )
        _, reward, terminated, _, info = env.step(act("click", id=wrong.id))
        assert terminated and reward == 0.0 and info["outcome"]["raw_reward"] == -1.0
    finally:
        env.close()


@pytest.mark.parametrize("sid", APPS)
def test_oracle_solves_each_app_and_checklist_subgoals_all_hold(sid):
    env = gym.make("prm/web-v0", scenario=sid, rewards=["progress:checklist"])
    try:
        info = solve(env, seed=0)
        assert info["outcome"]["reward"] == 1.0 and not info["infra_error"]
        assert info["progress_potential"]["after"] == 1.0
    finally:
        env.close()


def test_an_app_is_graded_on_its_state_not_on_the_agents_word():
    env = gym.make("prm/web-v0", scenario="app.catalog-filter")
    try:
        observation, _ = env.reset(seed=0)
        assert "call answer" in observation
        _, reward, terminated, _, info = env.step(act("answer", text="749"))
        assert terminated and reward == 0.0
        assert info["outcome"] == {"reward": 0.0, "success": False, "answer": True}
    finally:
        env.close()


def test_observation_tree_ids_are_stable_and_unknown_ids_explained():
    env = gym.make("prm/web-v0", scenario="app.todo-update")
    try:
        first, _ = env.reset(seed=0)
        assert "URL: http://127.0.0.1:" in first and "Title: Todos" in first and "Tabs: [0] (active)" in first
        box = next(n for n in parse_tree(first) if n.role == "textbox")
        second, *_ = env.step(act("fill", id=box.id, text="buy milk"))
        assert f"[{box.id}] textbox 'New todo' value='buy milk'" in second
        text, reward, _, _, info = env.step(act("click", id=9999))
        assert "no element with id 9999" in text and info["reward_components"] == {"invalid_action": 1.0}
        text, *_ = env.step(act("select", id=box.id, option="nope"))
        assert "Last action error:" in text and "Page:" in text
        text, *_ = env.step("click the add button")
        assert text.startswith("Invalid action")
    finally:
        env.close()


def test_check_env_passes_for_text_and_screenshot_observations():
    for observation in ("text", "text+screenshot"):
        env = WebEnv("miniwob.click-test", observation=observation, viewport=(320, 240))
        try:
            check_env(env, skip_render_check=True)
        finally:
            env.close()
    env = WebEnv("miniwob.click-test", observation="text+screenshot", viewport=(320, 240))
    try:
        observation, _ = env.reset(seed=0)
        assert (
            observation["screenshot"].shape == (240, 320, 3) and observation["screenshot"].dtype == np.uint8
        )
        assert observation["screenshot"].std() > 0 and "Click Me!" in observation["text"]
    finally:
        env.close()


def test_env_is_created_and_stepped_inside_a_running_event_loop():
    async def episode():
        env = gym.make("prm/web-v0", scenario="miniwob.click-test")
        try:
            info = solve(env, seed=0)
            await asyncio.sleep(0)
            return info["outcome"]["reward"]
        finally:
            env.close()

    assert asyncio.run(episode()) == 1.0


def test_vector_env_of_eight_copies_shares_one_browser():
    envs = gym.make_vec("prm/web-v0", num_envs=8, vectorization_mode="sync", scenario="miniwob.click-test")
    try:
        observations, _ = envs.reset(seed=0)
        assert len(observations) == 8 and all("button 'Click Me!'" in obs for obs in observations)
        clicks = [Oracle(envs.envs[0].unwrapped.scenario).next_action(obs) for obs in observations]
        _, rewards, terminated, _, _ = envs.step(clicks)
        assert list(rewards) == [1.0] * 8 and all(terminated)
        browsers = {id(env.unwrapped._browser) for env in envs.envs}
        contexts = {id(env.unwrapped._episode.context) for env in envs.envs}
        assert len(browsers) == 1 and len(contexts) == 8
    finally:
        envs.close()


def test_fork_carries_storage_and_url_and_is_independent_afterwards():
    env = WebEnv("app.settings-privacy")
    try:
        observation, _ = env.reset(seed=0)
        oracle = Oracle(env.scenario)
        for _ in range(6):  # every step of the solution but the final answer
            observation, *_ = env.step(oracle.next_action(observation))
        fork = env.fork()
        try:
            assert fork._last_observation.split("\n")[1] == observation.split("\n")[1]  # same URL
            assert "combobox 'Language' value='French'" in fork._last_observation  # saved state came along
            assert fork.history == env.history and fork._steps == env._steps
            language = next(
                n for n in parse_tree(fork._last_observation) if n.role == "combobox" and n.name == "Language"
            )
            save = next(n for n in parse_tree(fork._last_observation) if n.name == "Save changes")
            fork.step(act("select", id=language.id, option="German"))
            fork.step(act("click", id=save.id))
            _, reward, *_ = fork.step(act("answer", text="done"))
            assert reward == 0.0
        finally:
            fork.close()
        text, *_ = env.step(act("goto", url="/apps/settings/index.html"))
        assert "combobox 'Language' value='French'" in text  # the fork's save stayed in the fork
        _, reward, *_ = env.step(act("answer", text="done"))
        assert reward == 1.0
    finally:
        env.close()


def test_fork_of_a_miniwob_episode_replays_it_on_the_same_seed():
    env = WebEnv("miniwob.click-checkboxes")
    try:
        observation, _ = env.reset(seed=5)
        oracle = Oracle(env.scenario)
        observation, *_ = env.step(oracle.next_action(observation))
        fork = env.fork()
        try:
            assert fork._last_observation == env._last_observation
            done = False
            while not done:
                observation, reward, done, truncated, _ = fork.step(
                    oracle.next_action(fork._last_observation)
                )
                done = done or truncated
            assert reward == 1.0
        finally:
            fork.close()
        assert env._episode.miniwob_raw_reward is None  # the original did not move
    finally:
        env.close()


def test_bad_scenario_files_name_file_field_and_reason(tmp_path):
    from prm.errors import ScenarioError

    both = tmp_path / "both.yaml"
    both.write_text("id: x\nminiwob: click-test\napp: todo\n")
    with pytest.raises(ScenarioError, match="both.yaml: field '<root>'.*exactly one of"):
        WebEnv(str(both))
    no_oracle = tmp_path / "no-oracle.yaml"
    no_oracle.write_text("id: x\napp: todo\ngoal: g\nsuccess: 'true'\n")
    with pytest.raises(ScenarioError, match="needs an oracle"):
        WebEnv(str(no_oracle))
    missing = tmp_path / "missing.yaml"
    missing.write_text("id: x\nminiwob: no-such-task\n")
    env = WebEnv(str(missing))
    try:
        with pytest.raises(
            ScenarioError, match="field 'miniwob': page /miniwob/miniwob/no-such-task.html not served"
        ):
            env.reset(seed=0)
    finally:
        env.close()


def test_a_page_that_does_not_load_in_time_is_a_clear_observation_not_an_infra_error():
    env = WebEnv("app.todo-update")
    try:
        env.reset(seed=0)
        env.load_timeout_ms = 1
        text, _, terminated, truncated, info = env.step(act("goto", url="/apps/shop/index.html"))
        assert "Last action error:" in text and "Timeout 1ms exceeded" in text
        assert not info["infra_error"] and not terminated and not truncated
    finally:
        env.close()


@pytest.mark.parametrize("sid", ["miniwob.enter-password", "app.shop-checkout"])
def test_oracle_agent_plays_the_envs_own_solution(sid):
    from prm.agents import OracleAgent
    from prm.rollout import run_episode

    env = gym.make("prm/web-v0", scenario=sid)
    try:
        trajectory = run_episode(env, OracleAgent(), seed=4)
        assert trajectory.outcome.outcome["reward"] == 1.0 and trajectory.steps[-1].terminated
    finally:
        env.close()
