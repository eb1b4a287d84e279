"""The search-QA family's attacks for `prm bench hostile` (`prm.bench.hostile`), and its target.

There is no sandbox: the attacks aim at the tools' inputs (paths and huge ids in `open`, bad queries) and at
the outcome (probing with many answers, or with a bad answer that might not count). The gold answer is not
hidden material here: the corpus holds it by design. The family's faults are its search service going down
(`search_service`: envs searching the packaged corpus through `HttpBackend`, as many env processes share one
BM25 index) in the middle of an episode: the episodes that need it while it is down, at a step or at
`reset`, are infrastructure failures; when it comes back, the episodes started after that are served and
graded (an env needs nothing reset after a lost `reset`), and when it stays down they all are lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from prm.bench.faults import Outage
from prm.bench.hostile import Arena, Attack, Fault, Target, Verdict, contained, leaked
from prm.bench.outage import RestartableServer

SCENARIO = "5a8ce55f554299441c6b9f62"


def open_paths(arena: Arena) -> Verdict:
    host = str(arena.canary.path)
    for doc_id in (
        host,
        "../../../../../../.." + host,
        "file://" + host,
        "x" * 10_000_000,
        "Tinted Windows (band)\0",
    ):
        step = arena.call("open", doc_id=doc_id)
        if not step.info["error"]:
            return leaked(f"open accepted {doc_id[:60]!r}")
    return contained("paths, URLs, NUL bytes and a 10 MB id are unknown doc ids (invalid actions)")


def probe_answers(arena: Arena) -> Verdict:
    gold = arena.unwrapped.gold_answer()
    step = arena.call("answer", text=f"Chicago or Boston or Denver or {gold} or Austin or Miami")
    if not step.terminated:
        return leaked("an answer did not end the episode")
    if step.info["outcome"]["exact_match"] == 1.0:
        return leaked("a list of candidates scored exact match")
    arena.env.reset(seed=0)
    step = arena.call("answer", text="x" * 500)
    if not step.terminated or step.reward != 0.0:
        return leaked("an over-long answer did not end the episode with 0")
    return contained(
        f"one answer per episode; a list scores F1 {step.info['outcome']['f1']:.2f}, no exact match"
    )


@contextmanager
def search_service() -> Iterator[Outage]:
    """The packaged corpus' BM25 index served over HTTP on loopback (`prm.envs.search_qa.http`), for the
    envs of a fault's rollout (open mode: every `search` and `open` asks the service)."""
    from prm.envs.search_qa.backend import corpus_backend
    from prm.envs.search_qa.http import HttpBackend, make_server
    from prm.envs.search_qa.scenarios import packaged_corpus

    corpus = corpus_backend(str(packaged_corpus()))
    with RestartableServer(lambda port: make_server(corpus, port=port)) as server:
        yield Outage(server, env_kwargs={"backend": HttpBackend(server.url)})


def _make():
    from prm.envs.search_qa.env import SearchQAEnv

    return SearchQAEnv(SCENARIO, mode="distractor")


TARGET = Target(
    make=_make,
    fuzz_tools={"search": ["query", "k"], "open": ["doc_id"], "answer": ["text"], "nope": ["x"]},
    attacks=(
        Attack("paths and huge ids in open", "escapes", open_paths, fast=True),
        Attack("answer probing", "reward hacks", probe_answers, fast=True),
    ),
    scenario=SCENARIO,
    faults=(
        Fault("search service down, then back", outage=search_service, fast=True),
        Fault("search service down for good", outage=search_service, stays_down=True),
    ),
)
