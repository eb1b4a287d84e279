"""Search back ends of `prm/search-qa-v0`: the `SearchBackend` protocol and the default `BM25Backend` (bm25s).

A back end answers two calls: `search(query, k) -> list[Hit]` (ranked, best first, only hits with a positive
score) and `get(doc_id) -> Document` (raises `KeyError` for an unknown id). The env builds snippets, numbered
sentences and evidence signals from the `Document`s, so a back end only ranks and fetches. Any object with
these two methods plugs in through `gym.make("prm/search-qa-v0", backend=...)`. For HotpotQA scenarios its
doc ids must be the paragraph titles (the scenarios name their gold paragraphs by title). An `OSError` out of
a back end (a refused connection, a timeout, an HTTP error) is an infrastructure failure: the step ends the
episode with `info["infra_error"] = True` instead of scoring the agent. `prm.envs.search_qa.http` has one
such back end, `HttpBackend`, a client of a small JSON search protocol, and `make_server`, which serves any
back end over that protocol:

    from prm.envs.search_qa.http import HttpBackend
    env = gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62", backend=HttpBackend("http://127.0.0.1:8080"))

The default `BM25Backend` indexes `title + sentences` of every document with bm25s (lower-cased words of two
or more characters, English stop words removed, no stemming). The index is built on the first `search` and
cached on disk under `$PRM_CACHE_DIR/bm25/<hash>` (default `~/.cache/prm-gym`), keyed by a SHA-256 of the
documents, the tokenizer settings and the bm25s version, so a second process loads it instead of building it:

>>> docs = [Document("a", "Paris", ("Paris is the capital of France.",)),
...         Document("b", "Berlin", ("Berlin is the capital of Germany.",))]
>>> backend = BM25Backend(docs, cache_dir=None)  # None: build in memory, never touch the disk
>>> [hit.doc_id for hit in backend.search("capital of Germany", k=2)]
['b', 'a']
>>> backend.get("a").sentences
('Paris is the capital of France.',)
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
import threading
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Protocol, runtime_checkable

import bm25s
import numpy as np

from prm import paths
from prm.errors import ScenarioError

_STOPWORDS = "en"
_SPLITTER = r"(?u)\b\w\w+\b"


@dataclass(frozen=True, slots=True)
class Document:
    """One searchable paragraph: an id, a title and its sentences (HotpotQA's unit of evidence)."""

    doc_id: str
    title: str
    sentences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Hit:
    """One ranked search result; `score` is the back end's own relevance score (higher is better)."""

    doc_id: str
    title: str
    score: float


@runtime_checkable
class SearchBackend(Protocol):
    """What the env needs from a search engine. Implementations must be safe to share between forks."""

    def search(self, query: str, k: int) -> list[Hit]:
        """The top `k` documents for `query`, best first; an empty list when nothing matches."""
        ...

    def get(self, doc_id: str) -> Document:
        """The document with this id; raises `KeyError` when there is none."""
        ...


def read_corpus(path: str | Path) -> list[Document]:
    """Reads a corpus file: JSON Lines (optionally gzipped), one `{"title", "sentences", "id"?}` per line.

    The id defaults to the title (HotpotQA titles are unique). A bad line raises `ScenarioError`.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    documents = []
    try:
        with opener(path, "rt", encoding="utf-8") as lines:
            for number, line in enumerate(lines, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                    title, sentences = row["title"], row["sentences"]
                except (json.JSONDecodeError, KeyError, TypeError) as err:
                    raise ScenarioError(
                        f"{path}:{number}", "title/sentences", f"not a corpus line: {err}"
                    ) from err
                documents.append(Document(str(row.get("id", title)), title, tuple(sentences)))
    except OSError as err:
        raise ScenarioError(str(path), "<file>", f"cannot read corpus: {err}") from err
    return documents


def write_corpus(path: str | Path, documents: Iterable[Document]) -> None:
    """Writes documents as gzipped JSON Lines (reproducible bytes: no time stamp in the gzip header)."""
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
        for doc in documents:
            row = {"title": doc.title, "sentences": list(doc.sentences)}
            if doc.doc_id != doc.title:
                row["id"] = doc.doc_id
            packed.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))


class BM25Backend:
    """The default search engine: a bm25s BM25 index over a list of `Document`s, built lazily, cached on disk.

    `cache_dir` is the cache root (default `prm.paths.cache_dir()`); `None` keeps the index in memory only (used for the
    10-paragraph indexes of distractor mode). The index is built once per instance, thread-safely, on the first
    `search` (or an explicit `ensure_index()`); `built_from_cache` then says whether it was loaded from disk.
    """

    def __init__(self, documents: Sequence[Document], *, cache_dir: str | Path | None = "default"):
        if not documents:
            raise ValueError("BM25Backend needs at least one document")
        self.documents = list(documents)
        self._by_id = {doc.doc_id: i for i, doc in enumerate(self.documents)}
        if len(self._by_id) != len(self.documents):
            raise ValueError("BM25Backend: document ids must be unique")
        self._cache_root = (
            paths.cache_dir() if cache_dir == "default" else (Path(cache_dir) if cache_dir else None)
        )
        self._lock = threading.Lock()
        self._retriever: bm25s.BM25 | None = None
        self._tokenizer: bm25s.tokenization.Tokenizer | None = None
        self.built_from_cache: bool | None = None

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> BM25Backend:
        """A back end over a corpus file (see `read_corpus`)."""
        return cls(read_corpus(path), **kwargs)

    # --- the protocol -------------------------------------------------------------------------------
    def search(self, query: str, k: int) -> list[Hit]:
        retriever, tokenizer = self.ensure_index()
        ids = tokenizer.tokenize(
            [query], update_vocab=False, return_as="ids", show_progress=False, allow_empty=False
        )
        if not ids[0]:
            return []
        scores = retriever.get_scores_from_ids(ids[0])
        # Rank only the documents that match: numpy's argpartition (inside bm25s' top-k) slows down ~10x on an
        # array of mostly tied zeros, which is what a short query over this corpus scores.
        matching = np.flatnonzero(scores > 0)
        if matching.size == 0:
            return []
        top_scores, top = bm25s.selection.topk(
            scores[matching], min(k, matching.size), backend="numpy", sorted=True
        )
        return [
            Hit(self.documents[i].doc_id, self.documents[i].title, score)
            for i, score in zip(matching[top].tolist(), top_scores.tolist(), strict=True)
        ]

    def get(self, doc_id: str) -> Document:
        return self.documents[self._by_id[doc_id]]

    # --- the index ----------------------------------------------------------------------------------
    def content_hash(self) -> str:
        """SHA-256 over the documents, the tokenizer settings and the bm25s version: the cache key."""
        digest = hashlib.sha256(f"bm25s={version('bm25s')};stop={_STOPWORDS};split={_SPLITTER}".encode())
        for doc in self.documents:
            digest.update(
                json.dumps([doc.doc_id, doc.title, doc.sentences], ensure_ascii=False).encode("utf-8")
            )
        return digest.hexdigest()

    def ensure_index(self) -> tuple[bm25s.BM25, bm25s.tokenization.Tokenizer]:
        """Builds (or loads from the disk cache) the index if that has not happened yet; returns it."""
        if self._retriever is None:
            with self._lock:
                if self._retriever is None:
                    self._load_or_build()
        return self._retriever, self._tokenizer

    def _load_or_build(self) -> None:
        folder = self._cache_root / "bm25" / self.content_hash() if self._cache_root else None
        if folder is not None and (folder / "complete").is_file():
            tokenizer = bm25s.tokenization.Tokenizer(splitter=_SPLITTER, stopwords=_STOPWORDS)
            tokenizer.load_vocab(folder)
            self._tokenizer = tokenizer
            self._retriever = bm25s.BM25.load(folder, show_progress=False)
            self.built_from_cache = True
            return
        tokenizer = bm25s.tokenization.Tokenizer(splitter=_SPLITTER, stopwords=_STOPWORDS)
        texts = [" ".join((doc.title, *doc.sentences)) for doc in self.documents]
        tokens = tokenizer.tokenize(texts, return_as="tuple", show_progress=False)
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        self._tokenizer, self._retriever, self.built_from_cache = tokenizer, retriever, False
        if folder is not None:
            try:
                self._save(folder)
            except OSError as err:
                warnings.warn(
                    f"BM25 index not cached in {folder} ({err}); it is rebuilt in each process", stacklevel=2
                )

    def _save(self, folder: Path) -> None:
        """Writes the index to a temporary folder and renames it into place (safe with concurrent builders)."""
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".building-", dir=folder.parent))
        try:
            self._retriever.save(staging, show_progress=False)
            self._tokenizer.save_vocab(staging)
            (staging / "complete").write_text("ok\n")
            os.replace(staging, folder)
        except OSError:
            if not (folder / "complete").is_file():
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)


@lru_cache(maxsize=8)
def corpus_backend(path: str) -> BM25Backend:
    """The `BM25Backend` over a corpus file, one per process and file: every env of the process shares it."""
    return BM25Backend.from_file(path)
