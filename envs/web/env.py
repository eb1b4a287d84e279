"""`prm/web-v0`: operate web pages in a real headless Chromium (Debian's) through Playwright.

>>> import gymnasium as gym, prm
>>> env = gym.make("prm/web-v0", scenario="miniwob.click-test")
>>> observation, info = env.reset(seed=0)
>>> "Goal: Click the button." in observation
True
>>> env.close()

Tools: `click(id)`, `fill(id, text)`, `select(id, option)`, `hover(id)`, `press(key)`, `scroll(direction)`,
`goto(url)`, `go_back()`, `switch_tab(index)`, `answer(text)`, `noop()`. Ids are those of the accessibility
tree in the observation (`prm.envs.web.page_text`). An unknown id, a URL outside the page server or a
malformed call is an invalid action whose observation says why; an action Playwright cannot perform (a hidden
element, a wrong option) shows the page again with `Last action error:`.

Observation (text): goal, URL, title, open tabs, the last action's error, and the page's tree; with
`observation="text+screenshot"` a dict `{"text": ..., "screenshot": uint8 array (H, W, 3)}`.

Pages come only from the process's loopback page server (`prm.envs.web.server`): every other request is
aborted by routing, so tasks are deterministic and nothing leaves the machine. A page that does not load within
`load_timeout_s` gives a clear observation. A crashed page or a dead browser is an infrastructure failure
(`info["infra_error"]`), and the next `reset` starts a fresh browser.

Outcome (`info["outcome"]`, component `outcome`):
- MiniWoB++: the task's own JavaScript reward (`core.endEpisode`), read when the task says it is done:
  `reward = 1.0 if raw_reward > 0 else 0.0` (the binarisation of BrowserGym), `raw_reward` in [-1, 1]. The
  reward counts only on the document the episode started (a reload cannot draw an easier instance).
- Apps: `success` (a JavaScript expression over the app's saved state) and/or `answer` (normalised exact
  match): `reward = 1.0` when every declared check holds.

Step signals for `progress:checklist`: the scenario's `subgoals` (usually `observed` texts of the page).

`fork()` opens a new context in the same browser with the cookies and `localStorage` of this one
(Playwright's `storage_state`) at the same URL, with the same history and step count. Not carried: in-memory
JavaScript state, `sessionStorage`, unsaved form fields, scroll positions, other tabs. MiniWoB++ tasks keep
their problem in memory, so their forks re-create it instead: the same seed and a replay of the actions so far.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
from gymnasium import spaces
from playwright.async_api import BrowserContext, Page, Route
from playwright.async_api import Error as PlaywrightError
from pydantic import BaseModel, ConfigDict, Field

from prm.env import PrmEnv
from prm.envs.web.browser import SharedBrowser
from prm.envs.web.oracle import play
from prm.envs.web.page_text import id_selector, read_page
from prm.envs.web.scenario import WebScenario, load_scenario_file
from prm.envs.web.server import PageServer
from prm.errors import SandboxError, ScenarioError
from prm.scenario import resolve_scenario
from prm.spaces import Unicode
from prm.tools import ActionError, Tool, ToolResult

MINIWOB_EPISODE_MS = 1_000_000_000
"""MiniWoB's own episode timer, pushed out of reach: the step budget bounds an episode, not the wall clock."""
MAX_ANSWER_CHARS = 500
APP_FINISH = "When you are finished, call answer (with the answer if the goal asks for one, else 'done')."
"""Apps do not end by themselves: the agent says when it is done, and the grader reads the app's state."""


class IdArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: int = Field(description="the element's id, the number in [brackets] in the page tree")


class FillArgs(IdArgs):
    text: str = Field(max_length=5_000, description="the text to type (replaces the field's content)")


class SelectArgs(IdArgs):
    option: str = Field(max_length=500, description="the option's visible label (or its value)")


class PressArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    key: str = Field(max_length=50, description="a key or chord, e.g. Enter, Tab, ArrowDown, Control+A")


class ScrollArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    direction: Literal["up", "down", "left", "right"]


class GotoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=2_000, description="a URL of the page server (same origin as the task)")


class TabArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=0, description="the tab's index in the Tabs line")


class AnswerArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(max_length=MAX_ANSWER_CHARS, description="the final answer; ends the episode")


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class _Episode:
    """What the browser holds for one episode."""

    context: BrowserContext
    pages: list[Page]
    active: int = 0
    crashed: bool = False
    token: str = ""
    """MiniWoB: the mark set on the task's document at start; the reward counts only on that document."""
    miniwob_raw_reward: float | None = None
    answer: str | None = None

    @property
    def page(self) -> Page:
        return self.pages[self.active]


async def _nothing(page: Page) -> None:
    """The action of `noop`: the page is observed again, nothing else."""


def _normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0][:300] if text else type(err).__name__


class WebEnv(PrmEnv):
    """Web pages in a shared headless Chromium; see the module docstring."""

    scenario_family: ClassVar[str] = "web"
    scenario: WebScenario | None = None

    def __init__(
        self,
        scenario: str,
        *,
        observation: Literal["text", "text+screenshot"] = "text",
        viewport: tuple[int, int] = (800, 600),
        action_timeout_s: float = 5.0,
        load_timeout_s: float = 15.0,
        max_steps: int | None = None,
        reward_weights: dict[str, float] | None = None,
        render_mode: str | None = None,
    ):
        super().__init__(max_steps=max_steps, reward_weights=reward_weights, render_mode=render_mode)
        if observation not in ("text", "text+screenshot"):
            raise ValueError(f"observation must be 'text' or 'text+screenshot', got {observation!r}")
        self.scenario_ref = scenario
        self.scenario = load_scenario_file(resolve_scenario(self.scenario_family, scenario))
        self.observation_mode = observation
        self.viewport = viewport
        self.action_timeout_ms = action_timeout_s * 1000
        self.load_timeout_ms = load_timeout_s * 1000
        if observation == "text+screenshot":
            width, height = viewport
            self.observation_space = spaces.Dict(
                {"text": Unicode(), "screenshot": spaces.Box(0, 255, (height, width, 3), np.uint8)}
            )
        self._browser = SharedBrowser.get()
        self._server = PageServer.get()
        self._episode: _Episode | None = None
        self._seed: int | None = None
        self._goal = ""

    # --- episode life ---------------------------------------------------------------------------------
    def _step_budget(self) -> int:
        return self.max_steps or self.scenario.max_steps

    def _start(self, seed: int | None, options: dict[str, Any]) -> str:
        self._close_episode()
        self._seed = seed if seed is not None else int(self.np_random.integers(2**31))
        self._episode = self._open_episode(storage_state=None)
        goal = self._call(lambda: self._load_start_page(self._episode))
        return self._observe(goal=goal)

    def _open_episode(self, storage_state: dict | None) -> _Episode:
        width, height = self.viewport
        context = self._browser.context(
            viewport={"width": width, "height": height}, storage_state=storage_state
        )
        episode = _Episode(context=context, pages=[])

        async def setup() -> None:
            await context.route("**/*", self._route)
            context.on("page", lambda page: self._adopt_page(episode, page))
            context.set_default_timeout(self.action_timeout_ms)
            context.set_default_navigation_timeout(self.load_timeout_ms)
            self._adopt_page(episode, await context.new_page())

        self._call(setup)
        return episode

    def _adopt_page(self, episode: _Episode, page: Page) -> None:
        """A new tab (opened by us or by the page) becomes the active one."""
        if page in episode.pages:
            return
        episode.pages.append(page)
        episode.active = len(episode.pages) - 1
        page.on("crash", lambda _: setattr(episode, "crashed", True))
        page.on("close", lambda closed: self._forget_page(episode, closed))

    @staticmethod
    def _forget_page(episode: _Episode, page: Page) -> None:
        if page in episode.pages:
            episode.pages.remove(page)
            episode.active = max(0, min(episode.active, len(episode.pages) - 1))

    async def _route(self, route: Route) -> None:
        """Only the page server's origin is reachable; everything else is aborted."""
        if self._allowed(route.request.url):
            await route.continue_()
        else:
            await route.abort("blockedbyclient")

    def _allowed(self, url: str) -> bool:
        return url.startswith(self._server.origin + "/")

    async def _load_start_page(self, episode: _Episode) -> str:
        """Opens the start page; for MiniWoB, seeds and starts the task. Returns the goal text."""
        scenario = self.scenario
        response = await episode.page.goto(self._server.url(scenario.page_path), wait_until="load")
        if response is None or not response.ok:
            status = response.status if response is not None else "no response"
            field = "miniwob" if scenario.miniwob else "app"
            raise ScenarioError(self.scenario_ref, field, f"page {scenario.page_path} not served ({status})")
        if scenario.miniwob is None:
            return f"{scenario.goal} {APP_FINISH}"
        episode.token = secrets.token_hex(8)
        await episode.page.evaluate(
            """([seed, ms, token]) => { Math.seedrandom(seed); core.EPISODE_MAX_TIME = ms;
                core.startEpisodeReal(); window.__prmEpisode = token; }""",
            [str(self._seed), MINIWOB_EPISODE_MS, episode.token],
        )
        return await episode.page.evaluate("core.getUtterance()")

    def _close_episode(self) -> None:
        episode, self._episode = self._episode, None
        if episode is not None and self._browser.connected:
            # a context that died with its browser has nothing left to close
            with contextlib.suppress(PlaywrightError, SandboxError):
                self._browser.call(episode.context.close, timeout=30)

    def close(self) -> None:
        self._close_episode()
        super().close()

    # --- driving the browser ------------------------------------------------------------------------
    def _call(self, coro_fn: Callable[[], Awaitable[Any]]) -> Any:
        """Runs browser work. What the agent's action itself causes is caught in `_act`; any other browser
        failure (a dead browser, a crashed or vanished page, a start page that does not load) is an
        infrastructure failure."""
        try:
            return self._browser.call(coro_fn)
        except PlaywrightError as err:
            raise SandboxError(f"browser failed: {_first_line(err)}") from err

    def _act(self, action: Callable[[Page], Awaitable[Any]]) -> ToolResult:
        """Performs `action` on the active page; what Playwright refuses becomes `Last action error`."""
        episode = self._live_episode()
        error = None

        async def run() -> None:
            nonlocal error
            try:
                await action(episode.page)
                # a navigation the action started: observe the new page once its scripts have run
                await episode.page.wait_for_load_state("load", timeout=self.load_timeout_ms)
            except PlaywrightError as err:
                if episode.crashed or not self._browser.connected or episode.page.is_closed():
                    raise
                error = _first_line(err)

        self._call(run)
        observation = self._observe(error=error)
        return ToolResult(observation, done=episode.miniwob_raw_reward is not None)

    def _live_episode(self) -> _Episode:
        episode = self._episode
        if episode is None or episode.crashed or not episode.pages or not self._browser.connected:
            raise SandboxError("the page crashed or the browser is gone")
        return episode

    def _observe(self, *, goal: str | None = None, error: str | None = None) -> str:
        episode = self._live_episode()

        async def look() -> tuple[Any, list[tuple[str, str]], float | None]:
            page = episode.page
            view = await read_page(page)
            tabs = [(await tab.title(), tab.url) for tab in episode.pages]
            raw = None
            if self.scenario.miniwob is not None and episode.token:
                raw = await page.evaluate(
                    """(token) => (window.__prmEpisode === token && typeof WOB_DONE_GLOBAL !== 'undefined'
                        && WOB_DONE_GLOBAL) ? WOB_RAW_REWARD_GLOBAL : null""",
                    episode.token,
                )
            return view, tabs, raw

        view, tabs, raw = self._call(look)
        if raw is not None and episode.miniwob_raw_reward is None:
            episode.miniwob_raw_reward = float(raw)
        if goal is not None:
            self._goal = goal
        tab_text = "; ".join(
            f"[{i}]{' (active)' if i == episode.active else ''} {title!r} {url}"
            for i, (title, url) in enumerate(tabs)
        )
        lines = [f"Goal: {self._goal}", f"URL: {view.url}", f"Title: {view.title}", f"Tabs: {tab_text}"]
        if error:
            lines.append(f"Last action error: {error}")
        if episode.miniwob_raw_reward is not None:
            lines.append("The task reports that it is done.")
        lines += ["Page:", view.tree or "(empty page)"]
        return "\n".join(lines)

    # --- tools -------------------------------------------------------------------------------------
    def _tools(self) -> list[Tool]:
        return [
            Tool("click", "Click the element with this id.", IdArgs, self._click),
            Tool(
                "fill", "Type text into the field with this id (replaces its content).", FillArgs, self._fill
            ),
            Tool("select", "Choose an option of the drop-down with this id.", SelectArgs, self._select),
            Tool("hover", "Move the mouse over the element with this id.", IdArgs, self._hover),
            Tool("press", "Press a key or chord on the focused element, e.g. Enter.", PressArgs, self._press),
            Tool("scroll", "Scroll the page up, down, left or right.", ScrollArgs, self._scroll),
            Tool("goto", "Open a URL of this site (other sites are refused).", GotoArgs, self._goto),
            Tool("go_back", "Go back one page in this tab's history.", NoArgs, self._go_back),
            Tool(
                "switch_tab",
                "Make the tab with this index (see Tabs) the active one.",
                TabArgs,
                self._switch_tab,
            ),
            Tool("answer", "Give the final answer in text; ends the episode.", AnswerArgs, self._answer),
            Tool("noop", "Do nothing (let the page move on).", NoArgs, self._noop),
        ]

    def _element(self, page: Page, element_id: int) -> Any:
        return page.locator(id_selector(element_id))

    def _on_element(self, element_id: int, action: Callable[[Any], Awaitable[Any]]) -> ToolResult:
        episode = self._live_episode()
        locator = self._element(episode.page, element_id)
        if not self._call(locator.count):
            raise ActionError(f"no element with id {element_id} on this page; use an id from the page tree")
        return self._act(lambda page: action(locator))

    def _click(self, args: IdArgs) -> ToolResult:
        return self._on_element(args.id, lambda element: element.click())

    def _fill(self, args: FillArgs) -> ToolResult:
        return self._on_element(args.id, lambda element: element.fill(args.text))

    def _select(self, args: SelectArgs) -> ToolResult:
        async def choose(element: Any) -> None:
            try:
                await element.select_option(label=args.option, timeout=self.action_timeout_ms / 2)
            except PlaywrightError:
                await element.select_option(value=args.option, timeout=self.action_timeout_ms / 2)

        return self._on_element(args.id, choose)

    def _hover(self, args: IdArgs) -> ToolResult:
        return self._on_element(args.id, lambda element: element.hover())

    def _press(self, args: PressArgs) -> ToolResult:
        return self._act(lambda page: page.keyboard.press(args.key))

    def _scroll(self, args: ScrollArgs) -> ToolResult:
        dx, dy = {"up": (0, -300), "down": (0, 300), "left": (-300, 0), "right": (300, 0)}[args.direction]
        return self._act(lambda page: page.mouse.wheel(dx, dy))

    def _goto(self, args: GotoArgs) -> ToolResult:
        url = args.url
        if url.startswith("/"):
            url = self._server.url(url)
        if not self._allowed(url):
            raise ActionError(f"navigation refused: only pages of {self._server.origin}/ can be opened")
        return self._act(lambda page: page.goto(url, wait_until="load", timeout=self.load_timeout_ms))

    def _go_back(self, args: NoArgs) -> ToolResult:
        return self._act(lambda page: page.go_back(wait_until="load"))

    def _switch_tab(self, args: TabArgs) -> ToolResult:
        episode = self._live_episode()
        if args.index >= len(episode.pages):
            raise ActionError(f"no tab {args.index}; open tabs: 0..{len(episode.pages) - 1}")
        episode.active = args.index
        return self._act(lambda page: page.bring_to_front())

    def _answer(self, args: AnswerArgs) -> ToolResult:
        episode = self._live_episode()
        episode.answer = args.text
        return ToolResult(f"Answer recorded: {args.text}", done=True)

    def _noop(self, args: NoArgs) -> ToolResult:
        return self._act(_nothing)

    # --- outcome -----------------------------------------------------------------------------------
    def _grade(self) -> dict[str, Any]:
        episode = self._live_episode()
        scenario = self.scenario
        if scenario.miniwob is not None:
            raw = episode.miniwob_raw_reward
            return {"reward": float(raw is not None and raw > 0), "raw_reward": raw, "done": raw is not None}
        checks: dict[str, bool] = {}
        if scenario.success is not None:
            checks["success"] = self._app_state_holds(scenario.success)
        if scenario.answer is not None:
            checks["answer"] = episode.answer is not None and _normalize(episode.answer) == _normalize(
                scenario.answer
            )
        return {"reward": float(all(checks.values())), **checks}

    def _app_state_holds(self, expression: str) -> bool:
        """Evaluates `expression` over the app's saved state in a fresh page of the same origin (a 404 page:
        no app code runs, so nothing on the agent's pages can stand in for the state)."""
        episode = self._live_episode()
        key = f"app:{self.scenario.app}"

        async def evaluate() -> bool:
            page = await episode.context.new_page()
            try:
                await page.goto(self._server.url("/apps/.grader"), wait_until="load")
                return bool(
                    await page.evaluate(
                        """([key, expression]) => { const state = JSON.parse(localStorage.getItem(key) || "{}");
                            try { return !!(new Function("state", "return (" + expression + ");"))(state); }
                            catch (e) { return false; } }""",
                        [key, expression],
                    )
                )
            finally:
                await page.close()

        return self._call(evaluate)

    # --- hooks ---------------------------------------------------------------------------------------
    def gold_answer(self) -> str:
        if self.scenario.answer is None:
            raise NotImplementedError(f"scenario {self.scenario.id} has no gold answer")
        return self.scenario.answer

    def oracle_actions(self) -> list[str]:
        """The scripted solution from the current state (for `OracleAgent`): the oracle plays it in a fork, since
        element ids are only known once the pages show them; the same actions then solve this episode."""
        fork = self.fork()
        try:
            return play(fork, fork._last_observation)[0]
        finally:
            fork.close()

    def fork(self) -> WebEnv:
        """A new env at this state (see the module docstring for what a context carries)."""
        episode = self._live_episode()
        clone = WebEnv(
            self.scenario_ref,
            observation=self.observation_mode,
            viewport=self.viewport,
            action_timeout_s=self.action_timeout_ms / 1000,
            load_timeout_s=self.load_timeout_ms / 1000,
            max_steps=self.max_steps,
            reward_weights=self.reward_weights,
            render_mode=self.render_mode,
        )
        if self.scenario.miniwob is not None:
            clone.reset(seed=self._seed)
            for action, _ in self.history:
                clone.step(action)
            return clone
        state = self._call(episode.context.storage_state)
        url = episode.page.url
        clone._seed = self._seed
        clone._episode = clone._open_episode(storage_state=state)
        clone._call(lambda: clone._episode.page.goto(url, wait_until="load"))
        clone._goal = self._goal
        clone.task, clone.history = self.task, list(self.history)
        clone._steps, clone._started_at, clone._done = self._steps, self._started_at, self._done
        clone._tool_index = {tool.name: tool for tool in clone._tools()}
        clone._last_observation = clone._observe()
        return clone

    # --- screenshots -----------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        observation, info = super().reset(seed=seed, options=options)
        return self._with_screenshot(observation), info

    def step(self, action: str) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = super().step(action)
        return self._with_screenshot(observation), reward, terminated, truncated, info

    def _with_screenshot(self, text: str) -> Any:
        if self.observation_mode == "text":
            return text
        width, height = self.viewport
        pixels = np.zeros((height, width, 3), np.uint8)
        episode = self._episode
        if episode is not None and not episode.crashed and episode.pages and self._browser.connected:
            try:
                png = self._browser.call(lambda: episode.page.screenshot(type="png"))
                pixels = _decode_png(png, (height, width))
            except (PlaywrightError, SandboxError):
                pass  # the step already reports the failure; the screenshot stays black
        return {"text": text, "screenshot": pixels}


def _decode_png(png: bytes, shape: tuple[int, int]) -> np.ndarray:
    import io

    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.uint8)
    out = np.zeros((*shape, 3), np.uint8)
    h, w = min(shape[0], image.shape[0]), min(shape[1], image.shape[1])
    out[:h, :w] = image[:h, :w]
    return out
