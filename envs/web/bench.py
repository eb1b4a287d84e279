"""`prm bench web`: prm/web-v0 side by side with BrowserGym and the `miniwob` package's Selenium env, on the
same MiniWoB++ pages (served by our loopback page server), in one run.

Each contender runs in a fresh subprocess (`python -m prm.envs.web.bench CONTENDER ...`, printing JSON), so
its browser processes and memory are its own: it opens `envs` copies over the tasks, resets each `resets`
times, then takes `steps` no-op steps per copy, each a full observation (ours: the accessibility-tree text;
BrowserGym: its AXTree flattened to text with its own `flatten_axtree_to_str`; Selenium env: its DOM element
list). Reported: median reset and step latency, Chromium processes and resident memory (RSS of the browser
process tree) per env. Ratios are against BrowserGym and the Selenium env measured in the same run.

BrowserGym workaround: `browsergym-core` launches Playwright's own Chromium (absent here) and a second browser
for its chat window that ignores `pw_chromium_kwargs`; the bench hands BrowserGym a Playwright whose
`chromium.launch` adds Debian's executable and our flags, so both of its browsers start. The Selenium env gets
Debian's Chromium and `chromium-driver` through `MINIWOB_CHROME_BINARY` / `MINIWOB_CHROMEDRIVER`.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

CONTENDERS = ("prm", "browsergym", "selenium")


@dataclass
class Measurement:
    contender: str
    reset_s: float
    step_s: float
    processes_per_env: float
    rss_mb_per_env: float
    envs: int
    error: str | None = None


def _browser_tree() -> tuple[int, float]:
    """Chromium processes under this process and their total resident memory in MB."""
    import psutil

    children = [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name().lower()]
    rss = 0
    for process in children:
        try:
            rss += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return len(children), rss / 2**20


def _measure(
    contender: str,
    make: Callable[[str], Any],
    reset: Callable,
    step: Callable,
    tasks: list[str],
    envs: int,
    resets: int,
    steps: int,
) -> Measurement:
    opened = [make(tasks[i % len(tasks)]) for i in range(envs)]
    try:
        reset_times, step_times = [], []
        for round_index in range(resets):
            for env in opened:
                started = time.perf_counter()
                reset(env, round_index)
                reset_times.append(time.perf_counter() - started)
        for _ in range(steps):
            for env in opened:
                started = time.perf_counter()
                step(env)
                step_times.append(time.perf_counter() - started)
        processes, rss = _browser_tree()
        return Measurement(
            contender,
            statistics.median(reset_times),
            statistics.median(step_times),
            processes / envs,
            rss / envs,
            envs,
        )
    finally:
        for env in opened:
            env.close()


def measure_prm(tasks: list[str], envs: int, resets: int, steps: int) -> Measurement:
    import gymnasium as gym

    import prm  # noqa: F401 - registers the env ids

    noop = '{"tool": "noop", "args": {}}'
    return _measure(
        "prm",
        lambda task: gym.make("prm/web-v0", scenario=f"miniwob.{task}"),
        lambda env, seed: env.reset(seed=seed),
        lambda env: env.step(noop),
        tasks,
        envs,
        resets,
        steps,
    )


def _debian_playwright_for_browsergym() -> None:
    """The workaround of the module docstring: every browser BrowserGym launches is Debian's Chromium."""
    import browsergym.core
    from playwright.sync_api import sync_playwright

    from prm.envs.web.browser import CHROMIUM_FLAGS, chromium_path

    playwright = sync_playwright().start()
    launch = playwright.chromium.launch

    def launch_debian(**kwargs: Any) -> Any:
        kwargs["executable_path"] = chromium_path()
        kwargs["args"] = [*kwargs.get("args", []), *CHROMIUM_FLAGS]
        return launch(**kwargs)

    playwright.chromium.launch = launch_debian
    browsergym.core._set_global_playwright(playwright)


def measure_browsergym(tasks: list[str], envs: int, resets: int, steps: int) -> Measurement:
    import browsergym.miniwob  # noqa: F401 - registers browsergym/miniwob.* ids
    import gymnasium as gym
    from browsergym.utils.obs import flatten_axtree_to_str

    from prm.envs.web.server import PageServer

    os.environ["MINIWOB_URL"] = PageServer.get().url("/miniwob/miniwob/")
    _debian_playwright_for_browsergym()

    def step(env: Any) -> None:
        observation, *_ = env.step("noop(0)")
        flatten_axtree_to_str(observation["axtree_object"])

    return _measure(
        "browsergym",
        lambda task: gym.make(f"browsergym/miniwob.{task}", headless=True),
        lambda env, seed: flatten_axtree_to_str(env.reset(seed=seed)[0]["axtree_object"]),
        step,
        tasks,
        envs,
        resets,
        steps,
    )


def measure_selenium(tasks: list[str], envs: int, resets: int, steps: int) -> Measurement:
    import gymnasium as gym
    import miniwob  # noqa: F401 - registers miniwob/* ids
    from miniwob.action import ActionTypes

    from prm.envs.web.browser import chromium_path
    from prm.envs.web.server import PageServer

    os.environ["MINIWOB_CHROME_BINARY"] = chromium_path()
    os.environ["MINIWOB_CHROMEDRIVER"] = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    base_url = PageServer.get().url("/miniwob/miniwob/")
    gym.register_envs(miniwob)
    return _measure(
        "selenium",
        lambda task: gym.make(f"miniwob/{task}-v1", base_url=base_url),
        lambda env, seed: env.reset(seed=seed),
        lambda env: env.step(env.unwrapped.create_action(ActionTypes.NONE)),
        tasks,
        envs,
        resets,
        steps,
    )


MEASURES = {"prm": measure_prm, "browsergym": measure_browsergym, "selenium": measure_selenium}


def run_contender(
    contender: str, tasks: list[str], envs: int, resets: int, steps: int, timeout_s: float
) -> Measurement:
    """Measures one contender in a fresh subprocess; a failure becomes a row with `error`, never a crash."""
    command = [
        sys.executable,
        "-m",
        "prm.envs.web.bench",
        contender,
        ",".join(tasks),
        str(envs),
        str(resets),
        str(steps),
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return Measurement(
            contender,
            float("nan"),
            float("nan"),
            float("nan"),
            float("nan"),
            envs,
            f"timed out after {timeout_s:.0f} s",
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        return Measurement(contender, float("nan"), float("nan"), float("nan"), float("nan"), envs, tail)
    return Measurement(**json.loads(lines[-1]))


if __name__ == "__main__":
    name, task_list, env_count, reset_count, step_count = sys.argv[1:6]
    result = MEASURES[name](task_list.split(","), int(env_count), int(reset_count), int(step_count))
    print(json.dumps(asdict(result)))
