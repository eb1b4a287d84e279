"""The agent is an adversary: prm/web-v0 refuses other sites and schemes, serves no hidden material, cannot
be tricked into an infrastructure error or an easier MiniWoB instance, caps what a page can flood, and
reports a killed browser as an infrastructure failure that the next reset recovers from."""

import asyncio
import json
import os
import signal
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil
import pytest

from prm.envs.web.browser import SharedBrowser
from prm.envs.web.env import WebEnv
from prm.envs.web.hostile import HOSTILE_ACTIONS
from prm.envs.web.oracle import Oracle, solve
from prm.envs.web.page_text import read_page
from prm.envs.web.server import PageServer


def act(tool, **args):
    return json.dumps({"tool": tool, "args": args})


@pytest.fixture
def env():
    env = WebEnv("app.todo-update", max_steps=30)
    env.reset(seed=0)
    yield env
    env.close()


@pytest.fixture
def other_server():
    """A real HTTP server on another loopback port that counts the requests it gets."""
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<title>elsewhere</title>secret")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/",
        "file:///etc/passwd",
        "chrome://crash",
        "javascript:alert(1)",
        "about:blank",
        "http://127.0.0.1.nip.io/",
    ],
)
def test_goto_outside_the_page_server_is_refused(env, url):
    text, reward, _, _, info = env.step(act("goto", url=url))
    assert text.startswith("Invalid action: navigation refused") and not info["infra_error"]
    assert info["reward_components"] == {"invalid_action": 1.0}


def test_goto_another_loopback_port_is_refused_and_page_requests_are_aborted(env, other_server):
    origin, hits = other_server
    text, *_ = env.step(act("goto", url=origin + "/"))
    assert "navigation refused" in text
    page = env._episode.page
    fetched = env._browser.call(
        lambda: page.evaluate(f"fetch('{origin}/x').then(r => 'loaded', e => 'blocked: ' + e.message)")
    )
    assert fetched.startswith("blocked") and hits == []


def test_scenario_files_are_not_served(env):
    server = PageServer.get()
    for path in [
        "/apps/../app.todo-update.yaml",
        "/apps/%2e%2e/app.todo-update.yaml",
        "/app.todo-update.yaml",
        "/miniwob/../../envs/web/env.py",
        "/apps/",
    ]:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(server.url(path))
        assert refused.value.code == 404, path
    text, *_ = env.step(act("goto", url="/apps/%2e%2e/app.todo-update.yaml"))
    assert "state.items" not in text and "oracle" not in text


def test_hostile_actions_never_raise_an_infrastructure_error(env):
    for action in [act(tool, **args) for tool, args in HOSTILE_ACTIONS]:
        _, _, terminated, truncated, info = env.step(action)
        assert not info["infra_error"], (action, info)
        assert not terminated and not truncated


def test_reloading_a_miniwob_task_cannot_score_a_fresh_instance():
    env = WebEnv("miniwob.click-test", max_steps=4)
    try:
        first, _ = env.reset(seed=0)
        url = first.split("\n")[1].removeprefix("URL: ")
        text, *_ = env.step(act("goto", url=url))  # a new document: the episode mark is gone
        start = next(line for line in text.splitlines() if "'START'" in line)
        text, *_ = env.step(act("click", id=int(start.split("]")[0].strip(" ["))))
        _, reward, terminated, truncated, info = env.step(Oracle(env.scenario).next_action(text))
        assert not terminated and reward == 0.0
        for _ in range(5):
            if truncated:
                break
            _, reward, terminated, truncated, info = env.step(act("noop"))
        assert info["outcome"]["reward"] == 0.0 and info["outcome"]["done"] is False
    finally:
        env.close()


def test_a_flooding_page_is_cut(env):
    page = env._episode.page
    env._browser.call(
        lambda: page.set_content("<p>" + "flood " * 200_000 + "</p>" + "<button>b</button>" * 5000)
    )
    view = env._browser.call(lambda: read_page(page, max_chars=20_000))
    assert len(view.tree) <= 20_100 and view.tree.endswith("(page text cut at 20000 characters)")


def test_killed_browser_is_an_infra_error_and_the_next_reset_recovers():
    env = WebEnv("miniwob.click-test")
    try:
        env.reset(seed=0)
        me = psutil.Process()
        browsers = [
            p
            for p in me.children(recursive=True)
            if "chrom" in p.name().lower() and not any(a.startswith("--type=") for a in p.cmdline())
        ]
        assert browsers
        for process in browsers:
            os.kill(process.pid, signal.SIGKILL)
        _, reward, terminated, truncated, info = env.step(act("noop"))
        assert info["infra_error"] and truncated and not terminated and reward == 0.0
        assert info["outcome"]["reward"] is None
        info = solve(env, seed=0)
        assert info["outcome"]["reward"] == 1.0 and SharedBrowser.get().connected
    finally:
        env.close()


def test_crashed_page_is_an_infra_error_and_the_next_reset_recovers():
    env = WebEnv("miniwob.click-test")
    try:
        env.reset(seed=0)
        episode = env._episode

        async def crash():
            session = await episode.context.new_cdp_session(episode.page)
            crashed = asyncio.ensure_future(episode.page.wait_for_event("crash", timeout=60_000))
            request = asyncio.ensure_future(session.send("Page.crash"))  # never answered: the renderer dies
            await crashed
            request.cancel()

        env._browser.call(crash)
        _, _, terminated, truncated, info = env.step(act("noop"))
        assert info["infra_error"] and truncated and not terminated
        assert solve(env, seed=0)["outcome"]["reward"] == 1.0
    finally:
        env.close()
