"""Search back ends of `prm/search-qa-v0`: the bm25s index, its disk cache, corpus files, plugging in another."""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prm.envs.search_qa import (
    BM25Backend,
    Document,
    Hit,
    SearchBackend,
    SearchQAEnv,
    read_corpus,
    write_corpus,
)
from prm.envs.search_qa.backend import corpus_backend
from prm.envs.search_qa.http import HttpBackend, make_server
from prm.envs.search_qa.scenarios import packaged_corpus
from prm.errors import ScenarioError

DOCS = [
    Document("paris", "Paris", ("Paris is the capital of France.", " It lies on the Seine.")),
    Document("berlin", "Berlin", ("Berlin is the capital of Germany.",)),
    Document("seine", "Seine", ("The Seine is a river in France.",)),
]


def test_bm25_ranks_and_fetches():
    backend = BM25Backend(DOCS, cache_dir=None)
    assert isinstance(backend, SearchBackend)
    hits = backend.search("river Seine", k=5)
    assert [hit.doc_id for hit in hits] == ["seine", "paris"]  # berlin shares no word: not listed
    assert hits[0].score > hits[1].score > 0
    assert backend.search("the of and", k=3) == [] and backend.search("zebra", k=3) == []
    assert backend.get("berlin").sentences == ("Berlin is the capital of Germany.",)
    with pytest.raises(KeyError):
        backend.get("madrid")
    with pytest.raises(ValueError, match="unique"):
        BM25Backend([DOCS[0], DOCS[0]], cache_dir=None)


def test_index_is_cached_on_disk_by_content_hash(tmp_path):
    first = BM25Backend(DOCS, cache_dir=tmp_path)
    assert first.built_from_cache is None  # built on first use, not at construction
    expected = first.search("capital", k=3)
    assert first.built_from_cache is False
    folder = tmp_path / "bm25" / first.content_hash()
    assert (folder / "complete").is_file() and (folder / "vocab.tokenizer.json").is_file()
    second = BM25Backend(DOCS, cache_dir=tmp_path)
    assert second.search("capital", k=3) == expected and second.built_from_cache is True
    changed = BM25Backend([*DOCS[:2], Document("seine", "Seine", ("A river.",))], cache_dir=tmp_path)
    assert changed.content_hash() != first.content_hash()
    changed.ensure_index()
    assert changed.built_from_cache is False and len(list((tmp_path / "bm25").iterdir())) == 2


def test_prm_cache_dir_sets_the_default_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PRM_CACHE_DIR", str(tmp_path))
    backend = BM25Backend(DOCS)
    backend.ensure_index()
    assert (tmp_path / "bm25" / backend.content_hash() / "complete").is_file()


def test_packaged_corpus_is_the_full_hotpotqa_corpus():
    documents = read_corpus(packaged_corpus())
    assert len(documents) == 10785 and len({doc.doc_id for doc in documents}) == 10785
    assert all(doc.doc_id == doc.title and doc.sentences for doc in documents)


def test_corpus_files_round_trip_and_bad_lines_are_named(tmp_path):
    path = tmp_path / "corpus.jsonl.gz"
    docs = [*DOCS, Document("x-1", "Title X", ("One.",))]
    write_corpus(path, docs)
    assert read_corpus(path) == docs
    first = path.read_bytes()
    write_corpus(path, docs)
    assert path.read_bytes() == first  # reproducible bytes
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"title": "A", "sentences": ["a"]}) + "\n" + json.dumps({"name": "B"}) + "\n")
    with pytest.raises(ScenarioError, match=r"bad.jsonl:2"):
        read_corpus(bad)
    with gzip.open(tmp_path / "empty.jsonl.gz", "wt") as empty:
        empty.write("\n")
    assert read_corpus(tmp_path / "empty.jsonl.gz") == []


class TitlePrefixBackend:
    """A second real back end (not BM25): titles that start with the query, alphabetical."""

    def __init__(self, documents):
        self.documents = {doc.doc_id: doc for doc in documents}

    def search(self, query, k):
        found = sorted(doc for doc in self.documents if doc.lower().startswith(query.lower()))
        return [Hit(doc_id, self.documents[doc_id].title, 1.0) for doc_id in found[:k]]

    def get(self, doc_id):
        return self.documents[doc_id]


def test_a_custom_backend_plugs_in_through_make():
    backend = TitlePrefixBackend(read_corpus(packaged_corpus()))
    env = SearchQAEnv(scenario="5a8ce55f554299441c6b9f62", backend=backend)
    env.reset(seed=0)
    assert env.backend is backend
    observation = env.step('{"tool": "search", "args": {"query": "Tinted Windows (", "k": 5}}')[0]
    assert observation.splitlines()[1:] == [
        '1. "Tinted Windows (album)"',
        "   [0] Tinted Windows is the eponymous debut album of the American supergroup, Tinted Windows.",
        '2. "Tinted Windows (band)"',
        "   [0] Tinted Windows is an American rock supergroup formed by guitarist James Iha, previously of The "
        "Smashing Pumpkins, singer Taylor Hanson of Hanson, bassist Adam Schlesinger of Fountains of Wayne "
        "and Ivy, and Bun E. Carlos of Cheap Trick.",
    ]
    for action in env.oracle_actions():
        _, reward, terminated, _, _ = env.step(action)
    assert (reward, terminated) == (1.0, True)
    with pytest.raises(TypeError, match="search\\(query, k\\) and get\\(doc_id\\)"):
        SearchQAEnv(backend=object())


def test_an_http_search_service_plugs_in_and_its_failure_is_an_infra_error():
    local = corpus_backend(str(packaged_corpus()))
    server = make_server(local)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    remote = HttpBackend(f"http://127.0.0.1:{server.server_port}")
    try:
        assert remote.search("Tinted Windows band", 5) == local.search("Tinted Windows band", 5)
        with pytest.raises(KeyError):
            remote.get("No Such Paragraph")
        env = SearchQAEnv(scenario="5a8ce55f554299441c6b9f62", backend=remote)
        env.reset(seed=0)
        for action in env.oracle_actions():
            _, reward, terminated, _, info = env.step(action)
        assert (reward, terminated, info["infra_error"]) == (1.0, True, False)
        env.reset(seed=0)
    finally:
        server.shutdown()
        server.server_close()
    observation, reward, terminated, truncated, info = env.step(
        '{"tool": "search", "args": {"query": "Tulsa"}}'
    )
    assert info["infra_error"] is True and truncated and not terminated
    assert info["outcome"]["reward"] is None and "search back end failed" in info["error"]
    assert "not your fault" in observation


class Switchable:
    """A back end that forwards to `target`, which the test switches mid-episode."""

    def __init__(self, target):
        self.target = target

    def search(self, query, k):
        return self.target.search(query, k)

    def get(self, doc_id):
        return self.target.get(doc_id)


@pytest.mark.parametrize(
    "answer", [b"<html>502 bad gateway, with status 200</html>", b'[{"no": "id"}]', b'{"id": "x"}']
)
def test_a_search_service_answering_garbage_is_an_infra_error_not_the_agents_fault(answer):
    class Garbage(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server API)
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    backend = Switchable(corpus_backend(str(packaged_corpus())))
    env = SearchQAEnv(scenario="5a8ce55f554299441c6b9f62", backend=backend)
    try:
        for action in (
            '{"tool": "search", "args": {"query": "Tulsa"}}',
            '{"tool": "open", "args": {"doc_id": "x"}}',
        ):
            backend.target = corpus_backend(str(packaged_corpus()))
            env.reset(seed=0)
            backend.target = HttpBackend(f"http://127.0.0.1:{server.server_port}")
            _, _, _, truncated, info = env.step(action)
            assert info["infra_error"] is True and truncated, info["error"]
            assert "search service" in info["error"] and info["outcome"]["reward"] is None
    finally:
        server.shutdown()
        server.server_close()
