"""`prm bench search`: the speed of `prm/search-qa-v0` against bare bm25s, measured in the same run.

Measures, over the packaged HotpotQA corpus (10,785 paragraphs):
- index build: bare `bm25s` (tokenize + index) vs `BM25Backend` (the same plus writing the disk cache), and
  loading the index back from the disk cache;
- search latency per query (p50, p95) for two query sets, the packaged questions (long, ~15 words) and the gold
  paragraph titles (short, like an agent's keyword queries): a bare bm25s query (`Tokenizer.tokenize` +
  `BM25.retrieve`), `BM25Backend.search`, and a whole `env.step(search)` on a `gym.make` env (JSON parsing,
  argument validation, ranking, snippets, evidence bookkeeping, the observation text). Target: step p50 < 2 ms;
- episode throughput with the oracle's actions (reset + steps), in open and distractor mode.

>>> result = run_search_benchmark(queries=20, episodes=2)
>>> sorted(result.rows["titles"]), result.ratio("titles", "bare bm25s retrieve")
(['BM25Backend.search', 'bare bm25s retrieve', 'env.step(search)'], 1.0)
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import cycle, islice

import bm25s
import gymnasium as gym
import numpy as np

from prm.envs.search_qa.backend import BM25Backend, read_corpus
from prm.envs.search_qa.scenarios import load_pack, packaged_corpus

TARGET_P50_MS = 2.0


@dataclass(frozen=True)
class Latency:
    p50_ms: float
    p95_ms: float

    @classmethod
    def of(cls, seconds: list[float]) -> Latency:
        p50, p95 = np.percentile(np.asarray(seconds) * 1e3, [50, 95])
        return cls(float(p50), float(p95))


@dataclass
class SearchBenchResult:
    documents: int
    queries: int
    build_s: dict[str, float] = field(default_factory=dict)
    rows: dict[str, dict[str, Latency]] = field(default_factory=dict)  # query set -> query path -> latency
    throughput: dict[str, dict[str, float]] = field(default_factory=dict)

    BASELINE = "bare bm25s retrieve"
    STEP = "env.step(search)"

    def ratio(self, query_set: str, path: str) -> float:
        """p50 of `path` over p50 of the bare bm25s query, on the same query set."""
        return self.rows[query_set][path].p50_ms / self.rows[query_set][self.BASELINE].p50_ms

    def to_dict(self) -> dict:
        return {
            "documents": self.documents,
            "queries": self.queries,
            "build_s": self.build_s,
            "latency_ms": {
                query_set: {
                    path: vars(row) | {"ratio_p50": self.ratio(query_set, path)} for path, row in rows.items()
                }
                for query_set, rows in self.rows.items()
            },
            "throughput": self.throughput,
            "target_p50_ms": TARGET_P50_MS,
        }


def _timed(calls: Iterable[Callable[[], object]]) -> list[float]:
    times = []
    for call in calls:
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def _oracle_throughput(mode: str, backend: BM25Backend, ids: list[str]) -> dict[str, float]:
    env = gym.make("prm/search-qa-v0", mode=mode, backend=backend)
    steps = solved = 0
    start = time.perf_counter()
    for scenario_id in ids:
        env.reset(seed=0, options={"scenario": scenario_id})
        for action in env.unwrapped.oracle_actions():
            _, reward, terminated, _, _ = env.step(action)
            steps += 1
        solved += int(terminated and reward == 1.0)
    elapsed = time.perf_counter() - start
    return {
        "episodes": len(ids),
        "solved": solved,
        "episodes_per_s": len(ids) / elapsed,
        "steps_per_s": steps / elapsed,
    }


def run_search_benchmark(queries: int = 600, episodes: int = 200, k: int = 5) -> SearchBenchResult:
    """Runs every measurement; `queries` and `episodes` cycle through the packaged questions."""
    documents = read_corpus(packaged_corpus())
    pack = load_pack()
    scenarios = list(islice(cycle(pack.values()), queries))
    query_sets = {
        "questions": [scenario.question for scenario in scenarios],
        "titles": [title for scenario in scenarios for title in scenario.gold_titles()][:queries],
    }
    result = SearchBenchResult(documents=len(documents), queries=queries)

    texts = [" ".join((doc.title, *doc.sentences)) for doc in documents]
    start = time.perf_counter()
    tokenizer = bm25s.tokenization.Tokenizer(stopwords="en")
    retriever = bm25s.BM25()
    retriever.index(tokenizer.tokenize(texts, return_as="tuple", show_progress=False), show_progress=False)
    result.build_s["bare bm25s (tokenize + index)"] = time.perf_counter() - start

    with tempfile.TemporaryDirectory(prefix="prm-bench-") as cache:
        backend = BM25Backend(documents, cache_dir=cache)
        start = time.perf_counter()
        backend.ensure_index()
        result.build_s["BM25Backend build + cache write"] = time.perf_counter() - start
        start = time.perf_counter()
        BM25Backend(documents, cache_dir=cache).ensure_index()
        result.build_s["BM25Backend load from cache"] = time.perf_counter() - start

    def bare(query: str) -> None:
        ids = tokenizer.tokenize([query], update_vocab=False, return_as="ids", show_progress=False)
        retriever.retrieve(ids, k=k, show_progress=False, n_threads=0)

    env = gym.make("prm/search-qa-v0", scenario=scenarios[0].id, backend=backend, max_steps=2 * queries + 1)
    env.reset(seed=0)
    for name, texts in query_sets.items():
        actions = [json.dumps({"tool": "search", "args": {"query": query, "k": k}}) for query in texts]
        result.rows[name] = {
            SearchBenchResult.BASELINE: Latency.of(_timed(lambda q=q: bare(q) for q in texts)),
            "BM25Backend.search": Latency.of(_timed(lambda q=q: backend.search(q, k) for q in texts)),
            SearchBenchResult.STEP: Latency.of(_timed(lambda a=a: env.step(a) for a in actions)),
        }

    ids = list(islice(cycle(pack), episodes))
    for mode in ("open", "distractor"):
        result.throughput[f"oracle episodes, {mode}"] = _oracle_throughput(mode, backend, ids)
    return result
