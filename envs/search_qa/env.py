"""`prm/search-qa-v0`: answer a multi-hop HotpotQA question by searching and reading a Wikipedia corpus.

>>> import gymnasium as gym, prm
>>> env = gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62")
>>> observation, info = env.reset(seed=0)
>>> observation, reward, terminated, truncated, info = env.step('{"tool": "search", "args": {"query": "Tinted Windows band"}}')
>>> '"Tinted Windows (band)"' in observation, info["reward_components"]["redundancy"]
(True, 0.0)
>>> observation, reward, terminated, truncated, info = env.step('{"tool": "answer", "args": {"text": "Tulsa, Oklahoma"}}')
>>> terminated, round(reward, 3), info["outcome"]["exact_match"]
(True, 0.667, 0.0)

Tools (JSON actions, see `prm.tools`):
- `search(query, k=5)`: the top `k` (1..20) paragraphs, best first: each with its doc id (quoted; pass it to
  `open`) and a snippet, the sentence of the paragraph that shares most words with the query, with its number.
- `open(doc_id)`: the whole paragraph, its sentences numbered from 0.
- `answer(text)`: submits the answer and ends the episode.

Bad input: an empty or blank query, `k` outside 1..20, an unknown (or, in distractor mode, out-of-episode) doc
id, or a malformed call are invalid actions: the observation explains, `info["error"]` says why, the component
`invalid_action` is 1.0, and the episode goes on. An *answer* that is empty or longer than 200 characters is a
bad answer, not a malformed call: following the issue ("the episode goes on, except `answer`, which ends it"),
it still ends the episode (`terminated`), scored 0 (EM = F1 = 0), with `invalid_action = 1.0`, and
`info["error"]` and `outcome["answer_error"]` saying why: an agent cannot probe for free by answering badly.
An `answer` call without a `text` argument is malformed, not an answer, and does not end the episode.
An `OSError` out of the search back end (e.g. an HTTP service that is down) is an infrastructure failure:
`info["infra_error"] = True`, `truncated`, outcome reward `None`.

`make` arguments: `scenario` (a packaged question id, a scenario file path, a `SearchQAScenario`, or None to
draw a packaged question per `reset` from the env's seeded generator; `reset(options={"scenario": ...})`
switches), `mode` ("open": search the whole corpus, the default; "distractor": only the question's 10 context
paragraphs, indexed per episode), `backend` (any `SearchBackend`; default: the BM25 index of the scenario's
corpus; a custom back end must return the corpus' titles as doc ids of HotpotQA paragraphs), `outcome_metric`
("f1", the default, or "exact_match": which one is the outcome reward), `max_steps`, `reward_weights`.

Outcome (`info["outcome"]` at the end): `exact_match`, `f1` (HotpotQA's official normalisation,
`prm.envs.search_qa.metrics`), `reward` (F1 unless `outcome_metric` says otherwise), `answer`,
`evidence_recall`, and `answer_error` for a rejected answer. Truncated without an answer: all zero.

Native step components in `info["reward_components"]` on every valid `search`/`open` step (weight 0 by
default; give them weight through `reward_weights=`, e.g. `{"evidence_recall_gain": 0.5, "redundancy": -0.1}`):
- `evidence_recall_gain`: the fraction of the gold supporting sentences that this step shows for the first
  time (a search snippet shows one sentence, in full; `open` shows all of a paragraph);
- `redundancy`: 1.0 when the query was already searched (with any `k`; case and spacing ignored) or the doc
  was already opened, else 0.0.

Hooks for reward wrappers and agents: `gold_answer()`, `evidence_recall()` (fraction of gold sentences shown so
far), `oracle_actions()` (search each gold title, open it, answer the gold answer: reward 1), `fork()` (a new env
at the same state sharing the read-only back end), `scenario`, `backend`, `history`, `task`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar, Literal

from bm25s.stopwords import STOPWORDS_EN
from pydantic import BaseModel, ConfigDict, Field, field_validator

from prm.env import CatalogEntry, PrmEnv
from prm.errors import SandboxError, ScenarioError
from prm.tools import ActionError, Tool, ToolResult

from .backend import BM25Backend, Document, Hit, SearchBackend, corpus_backend
from .metrics import exact_match, f1_score
from .scenarios import SPLITS, SearchQAScenario, load_pack, packaged_corpus, resolve_scenario, scenario_ids

MAX_K = 20
MAX_QUERY_CHARS = 500
MAX_ANSWER_CHARS = 200
MAX_SNIPPET_CHARS = 400
MODES = ("open", "distractor")
_WORDS = re.compile(r"\w\w+")
_STOPWORDS = frozenset(STOPWORDS_EN)


class SearchArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: str = Field(max_length=MAX_QUERY_CHARS, description="keywords, e.g. a name or a title")
    k: int = Field(default=5, ge=1, le=MAX_K, description=f"how many results, 1..{MAX_K}")

    @field_validator("query")
    @classmethod
    def _not_blank(cls, query: str) -> str:
        if not query.strip():
            raise ValueError("the query is empty; search for a few keywords, e.g. a name or a title")
        return query.strip()


class OpenArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    doc_id: str = Field(description="a doc id from the search results")


class AnswerArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(
        description=f"the short answer (a name, date, number, yes/no), at most {MAX_ANSWER_CHARS} chars"
    )


@dataclasses.dataclass
class _Episode:
    """The mutable state of one episode (copied by `fork`)."""

    scenario: SearchQAScenario
    backend: SearchBackend
    gold: frozenset[tuple[str, int]]
    surfaced: set[tuple[str, int]] = dataclasses.field(default_factory=set)  # gold sentences shown so far
    queries: set[str] = dataclasses.field(default_factory=set)
    opened: set[str] = dataclasses.field(default_factory=set)
    answer: str | None = None
    answer_error: str | None = None

    def copy(self) -> _Episode:
        return dataclasses.replace(
            self, surfaced=set(self.surfaced), queries=set(self.queries), opened=set(self.opened)
        )


def _terms(text: str) -> set[str]:
    return set(_WORDS.findall(text.lower())) - _STOPWORDS


def _snippet(doc: Document, query_terms: set[str]) -> int:
    """The number of the sentence sharing the most distinct words with the query (the first on ties)."""
    overlaps = [len(query_terms & _terms(sentence)) for sentence in doc.sentences]
    return max(range(len(overlaps)), key=lambda i: (overlaps[i], -i)) if overlaps else 0


@contextmanager
def _infrastructure(during: str) -> Iterator[None]:
    """An `OSError` out of the search back end (e.g. an HTTP service down) is an infrastructure failure."""
    try:
        yield
    except OSError as err:
        raise SandboxError(f"the search back end failed during {during}: {err}") from err


def _quote(doc_id: str) -> str:
    return json.dumps(doc_id, ensure_ascii=False)


class SearchQAEnv(PrmEnv):
    """Multi-hop question answering over a searchable corpus (HotpotQA), with evidence-level step signals.

    >>> env = SearchQAEnv(scenario="5a8ce55f554299441c6b9f62", mode="distractor")
    >>> _ = env.reset(seed=0)
    >>> for action in env.oracle_actions():
    ...     observation, reward, terminated, truncated, info = env.step(action)
    >>> reward, info["outcome"]["exact_match"], env.evidence_recall()
    (1.0, 1.0, 1.0)
    """

    scenario_ids: ClassVar = staticmethod(scenario_ids)

    @classmethod
    def scenario_catalog(cls) -> list[CatalogEntry]:
        """The packaged questions with their HotpotQA split, titled by the question."""
        return [
            CatalogEntry(question_id, split, scenario.question)
            for split in SPLITS
            for question_id, scenario in load_pack(split).items()
        ]

    def __init__(
        self,
        scenario: str | Path | SearchQAScenario | None = None,
        *,
        mode: Literal["open", "distractor"] = "open",
        backend: SearchBackend | None = None,
        outcome_metric: Literal["f1", "exact_match"] = "f1",
        max_steps: int | None = None,
        reward_weights: dict[str, float] | None = None,
        render_mode: str | None = None,
    ):
        super().__init__(max_steps=max_steps, reward_weights=reward_weights, render_mode=render_mode)
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if outcome_metric not in ("f1", "exact_match"):
            raise ValueError(f"outcome_metric must be 'f1' or 'exact_match', got {outcome_metric!r}")
        if backend is not None and not isinstance(backend, SearchBackend):
            raise TypeError(
                f"backend must implement search(query, k) and get(doc_id), got {type(backend).__name__}"
            )
        self.mode = mode
        self.outcome_metric = outcome_metric
        self._backend = backend
        self._fixed = resolve_scenario(scenario) if scenario is not None else None
        self._episode: _Episode | None = None
        self._last_context: tuple[SearchBackend, tuple[str, ...], BM25Backend] | None = None

    # --- episode set-up ------------------------------------------------------------------------------
    def _start(self, seed: int | None, options: dict[str, Any]) -> str:
        if options.get("scenario") is not None:
            scenario = resolve_scenario(options["scenario"])
        elif self._fixed is not None:
            scenario = self._fixed
        else:
            scenario = load_pack()[self.draw_scenario_id()]
        corpus = self._backend or corpus_backend(scenario.corpus or str(packaged_corpus()))
        gold_docs = {
            title: self._fetch(corpus, scenario, title, "supporting_facts")
            for title in scenario.gold_titles()
        }
        for title, index in scenario.supporting_facts:
            if index >= len(gold_docs[title].sentences):
                raise ScenarioError(
                    scenario.id,
                    "supporting_facts",
                    f"{title!r} has {len(gold_docs[title].sentences)} sentences, no {index}",
                )
        if self.mode == "distractor":
            backend: SearchBackend = self._context_index(corpus, scenario)
            where = f"the {len(scenario.context_titles)} Wikipedia paragraphs given for this question (distractor setting)"
        else:
            backend, where = corpus, "a corpus of Wikipedia paragraphs"
        self._episode = _Episode(scenario, backend, frozenset(scenario.supporting_facts))
        return (
            f"Answer the question by searching {where} and reading the paragraphs you find. The answer is "
            f"usually a short span (a name, a date, a number, or yes/no), not a sentence.\n\nQuestion: {scenario.question}"
        )

    def _context_index(self, corpus: SearchBackend, scenario: SearchQAScenario) -> BM25Backend:
        """The in-memory BM25 index of the question's context paragraphs; the last one is kept, so the resets
        of a group of rollouts on one question (GRPO-style) build it once."""
        titles = tuple(scenario.context_titles)
        cached = self._last_context
        if cached is None or cached[0] is not corpus or cached[1] != titles:
            context = [self._fetch(corpus, scenario, title, "context_titles") for title in titles]
            cached = self._last_context = (corpus, titles, BM25Backend(context, cache_dir=None))
        return cached[2]

    @staticmethod
    def _fetch(corpus: SearchBackend, scenario: SearchQAScenario, title: str, field: str) -> Document:
        try:
            with _infrastructure("reset"):
                return corpus.get(title)
        except KeyError:
            raise ScenarioError(scenario.id, field, f"paragraph {title!r} is not in the corpus") from None

    def _step_budget(self) -> int:
        return self.max_steps or self._episode.scenario.max_steps

    def _tools(self) -> list[Tool]:
        return [
            Tool(
                "search",
                f"Search the corpus; returns the top k (1..{MAX_K}, default 5) doc ids with a snippet.",
                SearchArgs,
                self._search,
            ),
            Tool("open", "Show a paragraph by doc id, its sentences numbered.", OpenArgs, self._open),
            Tool(
                "answer",
                f"Submit the short final answer (at most {MAX_ANSWER_CHARS} characters); ends the episode.",
                AnswerArgs,
                self._answer,
            ),
        ]

    # --- tools --------------------------------------------------------------------------------------
    def _surface(self, shown: list[tuple[str, int]]) -> float:
        """Records the gold sentences among `shown`; returns the fraction of gold sentences shown for the first time."""
        episode = self._episode
        new = episode.gold.intersection(shown) - episode.surfaced
        episode.surfaced |= new
        return len(new) / len(episode.gold)

    def _search(self, args: SearchArgs) -> ToolResult:
        episode = self._episode
        key = " ".join(args.query.lower().split())
        redundancy = float(key in episode.queries)
        episode.queries.add(key)
        with _infrastructure("search"):
            hits: list[Hit] = episode.backend.search(args.query, args.k)
        if not hits:
            observation = (
                f"No results for {_quote(args.query)}: no paragraph contains its words. Try other keywords."
            )
            return ToolResult(observation, {"evidence_recall_gain": 0.0, "redundancy": redundancy})
        query_terms = _terms(args.query)
        lines, shown = [f"Results for {_quote(args.query)} (open one with its doc id):"], []
        for rank, hit in enumerate(hits, 1):
            with _infrastructure("search"):
                doc = episode.backend.get(hit.doc_id)
            index = _snippet(doc, query_terms)
            sentence = doc.sentences[index].strip() if doc.sentences else ""
            if len(sentence) <= MAX_SNIPPET_CHARS:
                shown.append((doc.title, index))
            else:
                sentence = sentence[:MAX_SNIPPET_CHARS] + "..."
            title = "" if doc.title == hit.doc_id else f" ({doc.title})"
            lines.append(f"{rank}. {_quote(hit.doc_id)}{title}\n   [{index}] {sentence}")
        return ToolResult(
            "\n".join(lines), {"evidence_recall_gain": self._surface(shown), "redundancy": redundancy}
        )

    def _open(self, args: OpenArgs) -> ToolResult:
        episode = self._episode
        try:
            with _infrastructure("open"):
                doc = episode.backend.get(args.doc_id)
        except KeyError:
            scope = "this question's paragraphs" if self.mode == "distractor" else "the corpus"
            raise ActionError(
                f"unknown doc id {_quote(args.doc_id)} in {scope}; open an id from the search results"
            ) from None
        redundancy = float(doc.doc_id in episode.opened)
        episode.opened.add(doc.doc_id)
        title = "" if doc.title == doc.doc_id else f" ({doc.title})"
        body = "\n".join(f"[{i}] {sentence.strip()}" for i, sentence in enumerate(doc.sentences))
        gain = self._surface([(doc.title, i) for i in range(len(doc.sentences))])
        return ToolResult(
            f"{_quote(doc.doc_id)}{title}\n{body}", {"evidence_recall_gain": gain, "redundancy": redundancy}
        )

    def _answer(self, args: AnswerArgs) -> ToolResult:
        episode = self._episode
        episode.answer = args.text.strip()
        if not episode.answer:
            episode.answer_error = "the answer is empty"
        elif len(episode.answer) > MAX_ANSWER_CHARS:
            episode.answer_error = (
                f"the answer has {len(episode.answer)} characters, more than {MAX_ANSWER_CHARS}; "
                "give the short answer span, not an explanation"
            )
        if episode.answer_error:
            return ToolResult(
                f"Answer rejected: {episode.answer_error}. The episode ends with score 0.",
                components={"invalid_action": 1.0},
                done=True,
            )
        return ToolResult(f"Answer submitted: {_quote(episode.answer)}. The episode ends.", done=True)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[str, dict]:
        """Starts an episode; `info` adds `scenario_id` (the question drawn when `scenario=None`) and `mode`."""
        observation, info = super().reset(seed=seed, options=options)
        return observation, {**info, "scenario_id": self._episode.scenario.id, "mode": self.mode}

    # --- the end ------------------------------------------------------------------------------------
    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = super().step(action)
        if terminated and self._episode.answer_error and info["error"] is None:
            info["error"] = f"answer rejected: {self._episode.answer_error}"
        return observation, reward, terminated, truncated, info

    def _grade(self) -> dict[str, Any]:
        episode = self._episode
        scored = episode.answer is not None and episode.answer_error is None
        em = exact_match(episode.answer, episode.scenario.answer) if scored else 0.0
        f1 = f1_score(episode.answer, episode.scenario.answer) if scored else 0.0
        outcome = {
            "reward": f1 if self.outcome_metric == "f1" else em,
            "exact_match": em,
            "f1": f1,
            "answer": episode.answer,
            "evidence_recall": self.evidence_recall(),
        }
        if episode.answer_error:
            outcome["answer_error"] = episode.answer_error
        return outcome

    # --- hooks --------------------------------------------------------------------------------------
    @property
    def scenario(self) -> SearchQAScenario:
        """The current episode's scenario (after `reset`); holds hidden material, never show it to the agent."""
        return self._started().scenario

    @property
    def backend(self) -> SearchBackend:
        """The current episode's search back end (in distractor mode, the index of its context paragraphs)."""
        return self._started().backend

    def gold_answer(self) -> str:
        return self._started().scenario.answer

    def evidence_recall(self) -> float:
        """The fraction of the gold supporting sentences shown to the agent so far (0..1)."""
        episode = self._started()
        return len(episode.surfaced) / len(episode.gold)

    def oracle_actions(self) -> list[str]:
        """Search each gold title, open its paragraph, answer the gold answer: reward 1, evidence recall 1."""
        scenario = self._started().scenario
        actions = []
        for title in scenario.gold_titles():
            actions.append(json.dumps({"tool": "search", "args": {"query": title}}, ensure_ascii=False))
            actions.append(json.dumps({"tool": "open", "args": {"doc_id": title}}, ensure_ascii=False))
        actions.append(json.dumps({"tool": "answer", "args": {"text": scenario.answer}}, ensure_ascii=False))
        return actions

    def fork(self) -> SearchQAEnv:
        """A new env at this env's state (steps, history, evidence, seeded generator), sharing the back end."""
        episode = self._started()
        clone = copy.copy(self)
        clone._episode = episode.copy()
        clone.history = list(self.history)
        clone._np_random = copy.deepcopy(self._np_random)
        clone._tool_index = {tool.name: tool for tool in clone._tools()}
        return clone

    def _started(self) -> _Episode:
        if self._episode is None:
            raise RuntimeError("call reset() first")
        return self._episode
