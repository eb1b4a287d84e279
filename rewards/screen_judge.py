"""`ScreenJudge`: a GUI-Shepherd style judge of a step from the screens before and after it, as a progress
estimator (`progress:screen_judge`).

Paper: "GUI-Shepherd: Reliable Process Reward and Verification for Long-Sequence GUI Tasks" (a model reads the
instruction, the action and the screenshots around it, and scores the step). The judge writes `SCORE: s` with
low <= s <= high; the step's progress is

    p_t = 2 * (s - low) / (high - low) - 1        in [-1, 1] (-1: harmful, 0: no progress, +1: a needed part done)

and, behind the `ProgressReward` estimator interface (r_t = V(s_{t+1}) - V(s_t)), the potential is the running
sum of the judged steps, V(s_0) = 0 and V(s_{t+1}) = V(s_t) + p_t, so the step reward is p_t itself.

Two ways to show the judge the screens (`images=`):

- `images=True`: an OpenAI-compatible multimodal endpoint (`backend=openai`, `OPENAI_BASE_URL`) gets both
  screenshots as base64 PNG data URLs in the chat message (`image_url` parts), with the instruction, the action
  and what the env answered;
- `images=False`: for judges that cannot consume images (e.g. a local transformers model, `backend=hf`), a
  *text rendering*: the observation text before and after (window list, accessibility tree) and where the
  pixels changed. Such a judge never sees the pixels; the prompt says so.

Hooks read: `screenshot()` (the current screen, an RGB array), `screen_text()` (the window list and
accessibility tree as the agent reads them), `history` and `task`. Failures follow the judge's
rules (`prm.rewards.judge`): a reply that cannot be parsed after `retries` more questions (the agent may provoke
it) leaves the step without a `progress` component and flags it `info["reward_flags"]["progress"] =
"unparsable"`; an endpoint that cannot be reached is an `infra_error`. The prompt and replies are in
`info["screen_judge"]` (the screenshots by their sha256, not inline).

>>> progress_of(0.8)  # the judge wrote SCORE: 8 on a 0..10 scale
0.6
>>> env = ProgressReward(gym.make("prm/gui-v0", scenario="mousepad-greeting"),
...                      ScreenJudge(image_judge("gpt-4o-mini"), images=True))  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any

import gymnasium as gym
import numpy as np

from prm.errors import RewardSpecError
from prm.rewards.base import SignalUnscored
from prm.rewards.judge import REFUSED_STATUSES, Judge, JudgeReply, instructions

SYSTEM_NOTE = (
    " You see the screen before and after the step. Score how much the step moved the desktop toward "
    "completing the instruction."
)
TEXT_ONLY_NOTE = (
    "[You cannot see the screenshots: this is a text rendering of the screen (window list and accessibility "
    "tree) before and after the step, and where the pixels changed.]"
)


def progress_of(fraction: float) -> float:
    """p = 2 * fraction - 1, with fraction = (s - low) / (high - low) the judge's score in [0, 1]."""
    return round(2 * fraction - 1, 12)


def png_data_url(screen: np.ndarray) -> str:
    """The screenshot as a `data:image/png;base64,...` URL (what multimodal chat APIs take in `image_url`)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(screen).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def pixel_change(before: np.ndarray, after: np.ndarray) -> str:
    """Where the screen changed, in words: the fraction of pixels and their bounding box."""
    changed = np.any(before != after, axis=-1)
    if not changed.any():
        return "no pixel changed"
    rows, columns = np.nonzero(changed)
    return (
        f"{changed.mean():.1%} of the pixels changed, within x {columns.min()}..{columns.max()}, "
        f"y {rows.min()}..{rows.max()}"
    )


class ImageJudge(Judge):
    """A `Judge` whose prompts are JSON lists of chat content parts (text and `image_url`), sent as they are
    to an OpenAI-compatible multimodal endpoint through the `openai:` agent's client (its retries, timeouts)."""

    def _complete(self, system: str, prompts: list[str]) -> list[JudgeReply]:
        import openai

        replies = []
        for prompt in prompts:
            messages = [
                {"role": "system", "content": system},
                {"role": "user", "content": json.loads(prompt)},
            ]
            try:
                response = self.agent.client.chat.completions.create(
                    model=self.agent.model,
                    messages=messages,
                    temperature=self.agent.temperature,
                    max_tokens=self.agent.max_new_tokens,
                )
                replies.append(JudgeReply(response.choices[0].message.content or ""))
            except openai.APIStatusError as err:
                refused = err.status_code in REFUSED_STATUSES
                replies.append(
                    JudgeReply(
                        None,
                        error=f"judge endpoint answered HTTP {err.status_code}: {err.message}",
                        refused=refused,
                    )
                )
            except openai.APIError as err:
                replies.append(JudgeReply(None, error=f"judge endpoint failed: {type(err).__name__}: {err}"))
            except (AttributeError, IndexError, TypeError) as err:
                replies.append(JudgeReply(None, error=f"judge endpoint answered no chat completion: {err}"))
        return replies


def image_judge(model: str, *, max_new_tokens: int = 128, cache: bool = True) -> ImageJudge:
    """An `ImageJudge` on the OpenAI-compatible endpoint at `OPENAI_BASE_URL` serving `model`."""
    from prm.agents.spec import make_agent

    agent = make_agent(f"openai:{model}", max_new_tokens=max_new_tokens, temperature=0.0)
    return ImageJudge(agent, model_id=f"openai-images:{model}", cache=cache)


class ScreenJudge:
    """V(s_{t+1}) = V(s_t) + p_t with p_t the judge's verdict on step t (see the module docstring)."""

    only_after_changes = False

    def __init__(self, judge: Judge, *, images: bool, low: float = 0, high: float = 10, retries: int = 2):
        if images and not isinstance(judge, ImageJudge):
            raise RewardSpecError("screen_judge with images=true needs an image judge (backend=openai)")
        if high <= low or retries < 0:
            raise RewardSpecError(
                f"screen_judge needs low < high and retries >= 0, got {low}, {high}, {retries}"
            )
        self.judge, self.images, self.retries = judge, images, retries
        self.parse = {"low": low, "high": high}
        self.system = instructions("score", low=low, high=high) + SYSTEM_NOTE
        self._potential = 0.0
        self._screen: np.ndarray | None = None
        self._text = ""

    def check(self, env: gym.Env) -> None:
        base = env.unwrapped
        if not all(callable(getattr(base, hook, None)) for hook in ("screenshot", "screen_text")):
            raise RewardSpecError(
                "progress:screen_judge needs an env with screens (hooks screenshot() and screen_text(), e.g. "
                f"prm/gui-v0); {type(base).__name__} has none"
            )

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float:
        base = env.unwrapped
        screen, text = base.screenshot(), base.screen_text()
        if info is None:  # after reset: V(s_0) = 0
            self._potential, self._screen, self._text = 0.0, screen, text
            return 0.0
        action, observation = base.history[-1]
        before, before_text = self._screen, self._text
        self._screen, self._text = screen, text
        step = (
            f"INSTRUCTION:\n{base.task}\n\nSTEP TO JUDGE:\nAction: {action}\nThe env answered:\n{observation}"
        )
        prompt = self._prompt(step, before, screen, before_text)
        score, record = self.judge.verdict("score", self.system, prompt, retries=self.retries, **self.parse)
        if self.images:  # the record keeps the text and the screenshots' digests, not the pictures
            record["prompt"] = step
            record["screenshots"] = [hashlib.sha256(s.tobytes()).hexdigest() for s in (before, screen)]
        info["screen_judge"] = record
        if score is None:
            raise SignalUnscored(record["failure"], record["error"])
        self._potential = round(self._potential + progress_of(score), 12)
        return self._potential

    def _prompt(self, step: str, before: np.ndarray, after: np.ndarray, before_text: str) -> str:
        if self.images:
            parts = [
                {"type": "text", "text": f"{step}\n\nThe screen before the step, then after it:"},
                {"type": "image_url", "image_url": {"url": png_data_url(before)}},
                {"type": "image_url", "image_url": {"url": png_data_url(after)}},
            ]
            return json.dumps(parts)
        return (
            f"{TEXT_ONLY_NOTE}\n\n{step}\n\nTHE SCREEN BEFORE THE STEP:\n{before_text}\n\n"
            f"PIXELS: {pixel_change(before, after)}"
        )
