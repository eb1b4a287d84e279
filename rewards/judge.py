"""`JudgeReward`: a judge language model reads the task, the recent history and the step, and gives a verdict.

Generative process reward models score steps with a model's written verdict instead of a rule. The judge is any
`prm.agents` model back end (`openai:` endpoint, `hf:` transformers, `vllm:`); its reply is parsed by scheme:

| scheme     | the judge writes                    | r_t                                                  | paper |
| ---------- | ----------------------------------- | ---------------------------------------------------- | ----- |
| `score`    | `SCORE: s` with low <= s <= high    | (s - low) / (high - low), in [0, 1]                  | VRPRM; GUI-Shepherd |
| `ternary`  | `VERDICT: correct / correctable / irrecoverable` | +1 / -penalty / -1                      | DataPRM |
| `rubric`   | `<criterion>: yes/no` (or 0..1) per criterion | sum_i w_i s_i / sum_i w_i (weights from a rubric file) | SWE-TRACE |
| `pairwise` | `BETTER: A` or `BETTER: B`          | +1 if A (the step) is better, -1 if B (`Judge.compare`, on forks) | WebArbiter |

Papers: "VRPRM: Process Reward Modeling via Visual Reasoning"; "GUI-Shepherd: Reliable Process Reward and
Verification for Long-Sequence GUI Tasks"; "DataPRM" (ternary step verdicts for data-analysis agents, a
correctable error costing 0 or a small penalty); "SWE-TRACE" (a rubric process reward model for software
agents); "WebArbiter" (pairwise judgement of candidate web actions). The last marker in the reply counts.

The prompt and the raw reply are stored in `info["judge"]`, so `prm rescore` reparses them offline (e.g. with
another range or penalty). Two failures, told apart because the agent is an adversary:

- a reply that cannot be parsed can be provoked by the agent (a prompt injection in its action or in what it
  made the env print), so it is never an infrastructure failure: the judge is asked again, bypassing the
  cache, up to `retries` times; if no reply parses, the step has no `judge` component (missing, never 0),
  `info["reward_flags"]["judge"] = "unparsable"`, the raw replies stay in `info["judge"]` ("output",
  "rejected") for `prm rescore`, and `info["infra_error"]` is left as the env set it;
- an endpoint that refuses the request for what it holds (HTTP 400, 413, 422: e.g. a prompt the agent flooded
  past the judge's context) is provoked by the agent too: no component, `info["reward_flags"]["judge"] =
  "refused"`, no `infra_error` (a misconfigured endpoint shows as every step flagged "refused");
- a back end that cannot be reached (connection refused, timeouts, 5xx after the client's retries) is real
  infrastructure: no component, `info["reward_flags"]["judge"] = "unreachable"` and `info["infra_error"]`.

Identical judge inputs are asked once: replies are kept on disk under
`prm.paths.cache_dir("judge")`, keyed by the sha256 of the model, the messages and the token limit. Envs that
share a judge (a rollout of N envs, `num_envs=N`) have their concurrent questions answered in one batched
back-end call (`ModelAgent.act_batch`).

>>> parse_verdict("ternary", "The edit breaks the API. VERDICT: irrecoverable")
-1.0
>>> parse_verdict("score", "Reasonable search.\\nSCORE: 7", low=0, high=10)
0.7
>>> try:
...     parse_verdict("ternary", "looks fine to me")
... except JudgeParseError as err:
...     print(err)
no 'VERDICT: correct|correctable|irrecoverable' in the judge's reply
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import gymnasium as gym
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prm.agent_protocol import PolicyUnavailable
from prm.errors import RewardSpecError
from prm.models import Trajectory
from prm.paths import cache_dir
from prm.rewards.base import StepSignal, flag_missing
from prm.rewards.state_text import render
from prm.tools import describe_tools

if TYPE_CHECKING:  # rewards depend on prm core only: the agents' back ends are imported where used
    from prm.agents.model import ModelAgent

Scheme = Literal["score", "ternary", "rubric", "pairwise"]
TERNARY = {"correct": 1.0, "correctable": None, "irrecoverable": -1.0}
NUMBER = r"(-?\d+(?:\.\d+)?)"
REFUSED_STATUSES = frozenset({400, 413, 422})
"""HTTP answers to what a request holds (the agent can provoke them): flagged "refused", never infrastructure."""


class JudgeParseError(ValueError):
    """The judge's reply holds no verdict of its scheme (the agent may have provoked it: never infra)."""


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[A-Za-z][\w-]*$")
    weight: float = Field(gt=0)
    description: str


class Rubric(BaseModel):
    """Weighted criteria for the `rubric` scheme, from a YAML file: `criteria: [{name, weight, description}]`."""

    model_config = ConfigDict(extra="forbid")
    criteria: list[Criterion] = Field(min_length=1)

    @classmethod
    def from_file(cls, path: str | Path) -> Rubric:
        try:
            return cls.model_validate(yaml.safe_load(Path(path).read_text()))
        except (OSError, yaml.YAMLError) as err:
            raise RewardSpecError(f"rubric file '{path}': {err}") from err
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(map(str, first["loc"])) or "criteria"
            raise RewardSpecError(f"rubric file '{path}': field '{where}': {first['msg']}") from err


def instructions(scheme: Scheme, *, low: float = 0, high: float = 10, rubric: Rubric | None = None) -> str:
    """The system prompt that tells the judge how to answer under `scheme`."""
    head = "You judge one step of an agent working on a task. Reason briefly, then end with "
    if scheme == "score":
        return head + f"'SCORE: s', s a number from {low:g} (harmful step) to {high:g} (ideal step)."
    if scheme == "ternary":
        return head + (
            "'VERDICT: correct' (the step helps), 'VERDICT: correctable' (a mistake the agent can still "
            "fix) or 'VERDICT: irrecoverable' (the task can no longer succeed)."
        )
    if scheme == "pairwise":
        return head + "'BETTER: A' or 'BETTER: B': which of the two candidate steps is better."
    if rubric is None:
        raise RewardSpecError("judge scheme 'rubric' needs rubric=PATH (a YAML file of weighted criteria)")
    lines = "\n".join(f"{c.name}: {c.description}" for c in rubric.criteria)
    return head + f"one line '<criterion>: yes' or '<criterion>: no' for each criterion:\n{lines}"


def _last(pattern: str, text: str, what: str) -> str:
    found = re.findall(pattern, text, flags=re.IGNORECASE | re.MULTILINE)
    if not found:
        raise JudgeParseError(f"no '{what}' in the judge's reply")
    return found[-1].lower()


def parse_verdict(
    scheme: Scheme,
    text: str,
    *,
    low: float = 0,
    high: float = 10,
    penalty: float = 0.0,
    rubric: Rubric | None = None,
) -> float:
    """The step value written in a judge's reply (see the table in the module docstring); `JudgeParseError`
    when the reply holds no verdict or one out of range."""
    if scheme == "score":
        score = float(_last(rf"SCORE:\s*{NUMBER}", text, "SCORE: <number>"))
        if not low <= score <= high:
            raise JudgeParseError(f"judge score {score:g} is outside [{low:g}, {high:g}]")
        return (score - low) / (high - low)
    if scheme == "ternary":
        verdict = _last(
            r"VERDICT:\s*(correctable|correct|irrecoverable)\b",
            text,
            "VERDICT: correct|correctable|irrecoverable",
        )
        return -penalty if TERNARY[verdict] is None else TERNARY[verdict]
    if scheme == "pairwise":
        return 1.0 if _last(r"BETTER:\s*([AB])\b", text, "BETTER: A|B") == "a" else -1.0
    if rubric is None:
        raise RewardSpecError("judge scheme 'rubric' needs a rubric")
    total = 0.0
    for criterion in rubric.criteria:
        answer = _last(
            rf"^\W*{re.escape(criterion.name)}\W*:\s*(yes|no|{NUMBER[1:-1]})\b",
            text,
            f"{criterion.name}: yes|no",
        )
        mark = {"yes": 1.0, "no": 0.0}.get(answer)
        mark = float(answer) if mark is None else mark
        if not 0 <= mark <= 1:
            raise JudgeParseError(f"criterion '{criterion.name}' scored {mark:g}, outside [0, 1]")
        total += criterion.weight * mark
    return total / sum(c.weight for c in rubric.criteria)


def step_prompt(first_observation: str, history: Sequence[tuple[str, str]], recent: int) -> str:
    """What the judge reads: the task (with its tool manual), the last `recent` earlier steps, the step."""
    *before, (action, observation) = history
    shown = before[-recent:] if recent > 0 else []
    dropped = (
        f"\n\n[{len(before) - len(shown)} earlier step(s) not shown]" if len(shown) < len(before) else ""
    )
    context = render(first_observation + dropped, shown)
    return f"{context}\n\nSTEP TO JUDGE:\nAction: {action}\nObservation: {observation}"


def pair_prompt(
    first_observation: str, history: Sequence[tuple[str, str]], a: tuple[str, str], b: tuple[str, str]
) -> str:
    """What a pairwise judge reads: the task and history, then two candidate steps from the same state."""
    return (
        f"{render(first_observation, history)}\n\nCANDIDATE A:\nAction: {a[0]}\nObservation: {a[1]}"
        f"\n\nCANDIDATE B:\nAction: {b[0]}\nObservation: {b[1]}"
    )


@dataclass(frozen=True)
class JudgeReply:
    """The judge's raw reply to one prompt (`text`), or why there is none (`error`; `refused`: the endpoint
    answered one of `REFUSED_STATUSES`)."""

    text: str | None
    error: str | None = None
    cached: bool = False
    refused: bool = False


class Judge:
    """A model back end asked judge questions: cached on disk, and batched across the threads that ask at once
    (up to `max_batch` questions, gathered for at most `window` seconds after the first)."""

    def __init__(
        self,
        agent: ModelAgent,
        *,
        model_id: str,
        cache: bool = True,
        max_batch: int = 16,
        window: float = 0.05,
    ):
        self.agent, self.model_id, self.cache = agent, model_id, cache
        self.max_batch, self.window = max_batch, window
        self.batch_sizes: list[
            int
        ] = []  # back-end calls made, by number of questions (for tests and benches)
        self._waiting: list[tuple[str, str, Future]] = []
        self._gathering = False
        self._lock = threading.Condition()

    def _key(self, system: str, prompt: str) -> str:
        content = json.dumps([self.model_id, self.agent.max_new_tokens, system, prompt])
        return hashlib.sha256(content.encode()).hexdigest()

    def _cache_file(self, key: str) -> Path:
        return cache_dir("judge", key[:2]) / f"{key}.json"

    def replies(self, system: str, prompts: Sequence[str], *, fresh: bool = False) -> list[JudgeReply]:
        """The judge's replies to `prompts` under one system prompt: from the cache (unless `fresh`), the rest
        (each distinct prompt once) in one back-end call; a new reply replaces the cached one."""
        out: list[JudgeReply | None] = [None] * len(prompts)
        if self.cache and not fresh:
            for i, prompt in enumerate(prompts):
                path = self._cache_file(self._key(system, prompt))
                if path.exists():
                    out[i] = JudgeReply(json.loads(path.read_text())["text"], cached=True)
        missing = list(dict.fromkeys(prompts[i] for i, reply in enumerate(out) if reply is None))
        if missing:
            self.batch_sizes.append(len(missing))
            answered = dict(zip(missing, self._complete(system, missing), strict=True))
            for prompt, reply in answered.items():
                if self.cache and reply.text is not None:
                    path = self._cache_file(self._key(system, prompt))
                    partial = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
                    partial.write_text(json.dumps({"text": reply.text}))
                    partial.replace(path)  # atomic: a concurrent reader sees the whole reply or none
            out = [reply or answered[prompt] for reply, prompt in zip(out, prompts, strict=True)]
        return out  # type: ignore[return-value]

    def _complete(self, system: str, prompts: list[str]) -> list[JudgeReply]:
        """The back end's replies to `prompts` (one batched call), or why each is missing."""
        from prm.agents.prompt import Conversation

        sessions = [self.agent.spawn() for _ in prompts]
        for session, prompt in zip(sessions, prompts, strict=True):
            session.conversation = Conversation(prompt, system=system)
        answers = self.agent.act_batch(sessions, [None] * len(prompts), [{}] * len(prompts))
        return [
            JudgeReply(
                None, error=f"judge back end failed: {answer}", refused=answer.status in REFUSED_STATUSES
            )
            if isinstance(answer, PolicyUnavailable)
            else JudgeReply(answer)
            for answer in answers
        ]

    def ask(self, system: str, prompt: str, *, fresh: bool = False) -> JudgeReply:
        """One question, answered in a batch with the questions other threads ask at the same time (`fresh`:
        not from the cache, e.g. asking again after a reply that could not be parsed)."""
        future: Future = Future()
        with self._lock:
            self._waiting.append((system, prompt, fresh, future))
            self._lock.notify_all()
            leader = not self._gathering
            if leader:
                self._gathering = True
                deadline = time.monotonic() + self.window
                while len(self._waiting) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                    self._lock.wait(left)
                batch, self._waiting, self._gathering = self._waiting, [], False
        if leader:
            for system_prompt, is_fresh in dict.fromkeys((system, fresh) for system, _, fresh, _ in batch):
                group = [(p, f) for s, p, new, f in batch if (s, new) == (system_prompt, is_fresh)]
                try:
                    replies = self.replies(system_prompt, [prompt for prompt, _ in group], fresh=is_fresh)
                except Exception as err:  # a back end that raises fails every question of its batch
                    replies = [JudgeReply(None, error=f"judge back end failed: {err}")] * len(group)
                for (_, waiting), reply in zip(group, replies, strict=True):
                    waiting.set_result(reply)
        return future.result()

    def compare(
        self,
        first_observation: str,
        history: Sequence[tuple[str, str]],
        a: tuple[str, str],
        b: tuple[str, str],
    ) -> tuple[float | None, dict[str, Any]]:
        """Pairwise verdict on two (action, observation) candidates from the same state (e.g. two forks):
        +1 if `a` is better, -1 if `b`; None and the error in the record when the reply cannot be parsed."""
        system = instructions("pairwise")
        prompt = pair_prompt(first_observation, history, a, b)
        return self.verdict("pairwise", system, prompt)

    def verdict(
        self, scheme: Scheme, system: str, prompt: str, *, retries: int = 2, **parse: Any
    ) -> tuple[float | None, dict[str, Any]]:
        """The value of the judge's verdict and its record (`verdict_record`), asking again (not from the cache)
        up to `retries` times while the reply cannot be parsed. The record's `failure` is "unparsable" (no
        reply parsed; the earlier replies are in `rejected`), "refused" or "unreachable" (`verdict_record`)."""
        rejected: list[str] = []
        reply = self.ask(system, prompt)
        while True:
            value, record = verdict_record(reply, scheme, system, prompt, **parse)
            if value is not None or reply.text is None or len(rejected) == retries:
                break
            rejected.append(reply.text)
            reply = self.ask(system, prompt, fresh=True)
        if rejected:
            record["rejected"] = rejected
        return value, record


def verdict_record(
    reply: JudgeReply, scheme: Scheme, system: str, prompt: str, **parse: Any
) -> tuple[float | None, dict[str, Any]]:
    """The value of a judge reply (None when it has none) and the record kept in `info["judge"]`: the scheme,
    prompts and raw output, and when there is no value `error` and `failure` ("unreachable": the back end
    failed; "refused": the endpoint refused the request for its content; "unparsable": no verdict in the reply)."""
    record: dict[str, Any] = {
        "scheme": scheme,
        "system": system,
        "prompt": prompt,
        "output": reply.text,
        "cached": reply.cached,
    }
    if reply.text is None:
        record |= {"error": reply.error, "failure": "refused" if reply.refused else "unreachable"}
        return None, record
    try:
        return parse_verdict(scheme, reply.text, **parse), record
    except JudgeParseError as err:
        record |= {"error": str(err), "failure": "unparsable"}
        return None, record


_SHARED: dict[tuple, Judge] = {}
_SHARED_LOCK = threading.Lock()


def shared_judge(
    backend: str, model: str, *, max_new_tokens: int, cache: bool, max_batch: int, window: float
) -> Judge:
    """One `Judge` per back end, model and endpoint (`OPENAI_BASE_URL`) in this process, so that the envs of a
    rollout batch their questions."""
    key = (backend, model, os.environ.get("OPENAI_BASE_URL"), max_new_tokens, cache, max_batch, window)
    with _SHARED_LOCK:
        if key not in _SHARED:
            from prm.agents.spec import make_agent

            options: dict[str, Any] = {"max_new_tokens": max_new_tokens}
            options |= {"do_sample": False} if backend == "hf" else {"temperature": 0.0}
            try:
                agent = make_agent(f"{backend}:{model}", **options)
            except Exception as err:  # a model that cannot be loaded is a spec error, before anything runs
                raise RewardSpecError(f"cannot load judge model '{backend}:{model}': {err}") from err
            _SHARED[key] = Judge(
                agent, model_id=f"{backend}:{model}", cache=cache, max_batch=max_batch, window=window
            )
        return _SHARED[key]


class JudgeReward(StepSignal):
    """r_t = the judge's verdict on step t under `scheme` (see the module docstring)."""

    name: ClassVar[str] = "judge"
    step_score: ClassVar[bool] = True  # a verdict on the step itself, not a change of a potential

    def __init__(
        self,
        env: gym.Env,
        judge: Judge,
        *,
        scheme: Literal["score", "ternary", "rubric"] = "ternary",
        history: int = 4,
        low: float = 0,
        high: float = 10,
        penalty: float = 0.0,
        rubric: Rubric | None = None,
        retries: int = 2,
        weight: float = 1.0,
    ):
        if scheme == "pairwise":
            raise RewardSpecError("the pairwise judge compares two candidates (forks): use Judge.compare")
        if high <= low:
            raise RewardSpecError(f"judge score range needs low < high, got [{low:g}, {high:g}]")
        if retries < 0:
            raise RewardSpecError(f"judge retries must be >= 0, got {retries}")
        super().__init__(env, weight=weight)
        self.judge, self.scheme, self.recent, self.retries = judge, scheme, history, retries
        self.parse = {"low": low, "high": high, "penalty": penalty, "rubric": rubric}
        self.system = instructions(scheme, low=low, high=high, rubric=rubric)

    def _value(self, action: Any, observation: Any, info: dict[str, Any]) -> float | None:
        base = self.env.unwrapped
        first = f"{base.task}\n\n{describe_tools(base.tools)}"
        prompt = step_prompt(first, list(base.history), self.recent)
        value, info["judge"] = self.judge.verdict(
            self.scheme, self.system, prompt, retries=self.retries, **self.parse
        )
        flag_missing(info, self.name, info["judge"].get("failure"))
        return value

    @classmethod
    def rescore(
        cls, trajectory: Trajectory, judge: Callable[[], Judge], **settings: Any
    ) -> list[float | None]:
        """The values of a recorded episode's steps: stored replies to the same question are reparsed (no
        model loaded), the other steps are asked of `judge()` in one batch (their text is in the trajectory)."""
        scheme, recent = settings.pop("scheme"), settings.pop("history")
        system = instructions(scheme, low=settings["low"], high=settings["high"], rubric=settings["rubric"])
        first = str(trajectory.header.initial_observation)
        history = [(step.action, str(step.observation)) for step in trajectory.steps]
        prompts = [step_prompt(first, history[: t + 1], recent) for t in range(len(history))]
        replies: list[JudgeReply | None] = []
        for step, prompt in zip(trajectory.steps, prompts, strict=True):
            stored = step.info.get("judge") or {}
            same = stored.get("system") == system and stored.get("prompt") == prompt
            replies.append(
                JudgeReply(stored["output"]) if same and stored.get("output") is not None else None
            )
        missing = [t for t, reply in enumerate(replies) if reply is None]
        if missing:
            for t, reply in zip(missing, judge().replies(system, [prompts[t] for t in missing]), strict=True):
                replies[t] = reply
        return [
            verdict_record(reply, scheme, system, prompt, **settings)[0]
            for reply, prompt in zip(replies, prompts, strict=True)
        ]  # type: ignore[arg-type]
