"""The web family's attacks for `prm bench hostile` (`prm.bench.hostile`), and its target.

The browser is the sandbox: `goto` must refuse other origins and schemes (the battery's host loopback service
and host canary file included), the page server must not serve scenario files (the app's `success` check is
hidden material), hostile actions are never an infrastructure failure, and answers cannot be probed.
"""

from __future__ import annotations

from prm.bench.faults import kill_host_children
from prm.bench.hostile import Arena, Attack, Fault, Target, Verdict, contained, leaked

SCENARIO = "app.todo-update"


def goto_elsewhere(arena: Arena) -> Verdict:
    host = str(arena.canary.path)
    urls = [
        arena.service.url,
        "http://192.0.2.1/",
        f"file://{host}",
        "chrome://crash",
        "javascript:localStorage.setItem('app:todo', '{}')",
        "view-source:" + arena.service.url,
        "about:blank",
        "http://127.0.0.1.nip.io/",
    ]
    for url in urls:
        step = arena.call("goto", url=url)
        if "navigation refused" not in step.text:
            return leaked(f"goto {url[:60]!r} was not refused: {step.text[:80]!r}")
    return contained(f"{len(urls)} URLs refused (other ports, outside, file:, chrome:, javascript:)")


def scenario_files(arena: Arena) -> Verdict:
    for path in (
        "/apps/../app.todo-update.yaml",
        "/apps/%2e%2e/app.todo-update.yaml",
        "/app.todo-update.yaml",
        "/miniwob/../../envs/web/env.py",
        "/apps/%2e%2e/%2e%2e/%2e%2e/envs/web/oracle.py",
    ):
        step = arena.call("goto", url=path)
        if "oracle" in step.text and "success" in step.text:
            return leaked(f"{path} served a scenario file")
    return contained("traversals to scenario files and sources get 404 pages")


HOSTILE_ACTIONS = [
    ("press", {"key": "NoSuchKey"}),
    ("press", {"key": "F5"}),
    ("fill", {"id": 1, "text": "x" * 5000}),
    ("click", {"id": -3}),
    ("select", {"id": 1, "option": "nothing"}),
    ("switch_tab", {"index": 7}),
    ("scroll", {"direction": "down"}),
    ("go_back", {}),
    ("go_back", {}),
    ("goto", {"url": "/apps/does-not-exist.html"}),
    ("click", {"id": '1"] , body, [x="'}),
]


def hostile_actions(arena: Arena) -> Verdict:
    for tool, args in HOSTILE_ACTIONS:
        if arena.call(tool, **args).done:
            return leaked(f"{tool}({args}) ended the episode")
    return contained(f"{len(HOSTILE_ACTIONS)} hostile actions: no infra_error, the episode goes on")


def probe_answers(arena: Arena) -> Verdict:
    step = arena.call("answer", text="done")
    if not step.terminated:
        return leaked("an answer did not end the episode")
    if step.info["outcome"]["reward"]:
        return leaked("answering without doing the task scored")
    return contained("the answer ends the episode; the app's saved state decides (reward 0)")


def _make():
    from prm.envs.web.env import WebEnv

    return WebEnv(SCENARIO, max_steps=30)


TARGET = Target(
    make=_make,
    fuzz_tools={
        "click": ["id"],
        "fill": ["id", "text"],
        "goto": ["url"],
        "press": ["key"],
        "scroll": ["direction"],
        "answer": ["text"],
        "nope": ["x"],
    },
    scenario=SCENARIO,
    faults=(Fault("Chromium killed", kill_host_children("chromium")),),
    secrets=lambda env: [env.scenario.success.split("&&")[0].strip()] if env.scenario.success else [],
    attacks=(
        Attack("goto other origins and schemes", "network", goto_elsewhere, fast=True),
        Attack("scenario files through the page server", "hidden material", scenario_files, fast=True),
        Attack("hostile actions", "bad input", hostile_actions),
        Attack("answer without the task", "reward hacks", probe_answers),
    ),
)
