"""Scenarios of `prm/search-qa-v0`: one multi-hop question each, in the HotpotQA format.

A scenario file (YAML or JSON) holds one `SearchQAScenario`; the packaged pack (`scenarios/search_qa/`) holds
the 300 train and 300 dev "hard" HotpotQA questions as JSON Lines (`hotpotqa_train.jsonl`, `hotpotqa_dev.jsonl`)
over `corpus.jsonl.gz` (10,785 Wikipedia paragraphs). `scenario=` takes a question id of the pack, a path to
a scenario file, or a `SearchQAScenario`; `scenario_ids()` enumerates what `scenario=` accepts:

>>> ids = scenario_ids()          # the packaged pack, train and dev
>>> len(ids), len(scenario_ids("dev"))
(600, 300)
>>> resolve_scenario(ids[0]).id == ids[0]
True

`read_questions` reads a question file in either HotpotQA layout (a JSON array or JSON Lines): the pack's
(`id`, `context_titles`) or the original release's (`_id`, `context` with the paragraphs themselves).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field, NonNegativeInt, model_validator

from prm.errors import ScenarioError
from prm.models import ScenarioBase
from prm.scenario import load_scenario, packaged_scenarios, scenario_files, validate_scenario

from .backend import Document, read_corpus, write_corpus

if TYPE_CHECKING:
    from rich.progress import Progress

SPLITS = ("train", "dev")
CORPUS_FILE = "corpus.jsonl.gz"


class SearchQAScenario(ScenarioBase):
    """One question. `answer` and `supporting_facts` are hidden material: never shown to the agent.

    >>> SearchQAScenario(id="q1", question="Who?", answer="Ada", supporting_facts=[("Ada Lovelace", 0)],
    ...                  context_titles=["Ada Lovelace"]).answer
    'Ada'
    """

    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    supporting_facts: list[tuple[str, NonNegativeInt]] = Field(
        min_length=1, description="gold evidence: [title, sentence index] pairs"
    )
    context_titles: list[str] = Field(
        min_length=1, description="the paragraphs of distractor mode (gold and distractors)"
    )
    type: str | None = Field(default=None, description="HotpotQA question type: bridge or comparison")
    level: str | None = None
    corpus: str | None = Field(
        default=None,
        description="corpus file (JSON Lines, .gz allowed) relative to the scenario file; default: the packaged corpus",
    )

    @model_validator(mode="after")
    def _gold_titles_in_context(self) -> SearchQAScenario:
        missing = sorted({title for title, _ in self.supporting_facts} - set(self.context_titles))
        if missing:
            raise ValueError(f"supporting_facts name titles missing from context_titles: {missing}")
        return self

    def gold_titles(self) -> list[str]:
        """The titles of the gold paragraphs, in order of first mention."""
        return list(dict.fromkeys(title for title, _ in self.supporting_facts))


def pack_dir() -> Path:
    """The packaged scenario pack of this family."""
    return packaged_scenarios("search_qa")


def packaged_corpus() -> Path:
    return pack_dir() / CORPUS_FILE


def hotpotqa_record(row: dict[str, Any]) -> tuple[dict[str, Any], list[Document]]:
    """Maps one HotpotQA record (either layout) to scenario fields, plus the paragraphs it carries, if any."""
    row = dict(row)
    if "_id" in row:
        row["id"] = row.pop("_id")
    paragraphs = []
    if "context" in row:
        context = row.pop("context")
        paragraphs = [Document(title, title, tuple(sentences)) for title, sentences in context]
        row.setdefault("context_titles", [doc.title for doc in paragraphs])
    return row, paragraphs


def read_questions(path: str | Path) -> list[tuple[SearchQAScenario, list[Document]]]:
    """Reads a HotpotQA question file (JSON array or JSON Lines) into scenarios and their carried paragraphs.

    Every bad record raises `ScenarioError` naming `FILE:LINE` (or `FILE[INDEX]`), the field and the reason.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(str(path), "<file>", f"cannot read: {err.strerror or err}") from err
    if text.lstrip().startswith("["):
        try:
            rows = [(f"{path}[{i}]", row) for i, row in enumerate(json.loads(text))]
        except json.JSONDecodeError as err:
            raise ScenarioError(str(path), "<file>", f"not valid JSON: {err}") from err
    else:
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append((f"{path}:{number}", json.loads(line)))
                except json.JSONDecodeError as err:
                    raise ScenarioError(f"{path}:{number}", "<line>", f"not valid JSON: {err}") from err
    questions = []
    for source, row in rows:
        if not isinstance(row, dict):
            raise ScenarioError(source, "<root>", "a HotpotQA record must be a JSON object")
        try:
            fields, paragraphs = hotpotqa_record(row)
        except (TypeError, ValueError) as err:
            raise ScenarioError(
                source, "context", f"expected [[title, [sentence, ...]], ...]: {err}"
            ) from err
        scenario = validate_scenario(fields, SearchQAScenario, source=source)
        lengths = {doc.title: len(doc.sentences) for doc in paragraphs}
        for title, index in scenario.supporting_facts:
            if index >= lengths.get(title, index + 1):
                reason = f"{title!r} has {lengths[title]} sentences, no sentence {index}"
                raise ScenarioError(source, "supporting_facts", reason)
        questions.append((scenario, paragraphs))
    return questions


@cache
def load_pack(split: str | None = None) -> dict[str, SearchQAScenario]:
    """The packaged questions by id: one split ('train' or 'dev') or both (None). Read once per process."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS} or None, got {split!r}")
    pack: dict[str, SearchQAScenario] = {}
    for name in [split] if split else SPLITS:
        pack.update(
            (scenario.id, scenario) for scenario, _ in read_questions(pack_dir() / f"hotpotqa_{name}.jsonl")
        )
    return pack


def scenario_ids(source: str | Path | None = None) -> list[str]:
    """What `scenario=` accepts, sorted: packaged question ids (`None`: all, 'train' or 'dev': one split), or
    the scenario file paths under a directory (e.g. one written by `prm scenario import hotpotqa`)."""
    if source is None or source in SPLITS:
        return sorted(load_pack(source))
    path = Path(source)
    if path.resolve() == pack_dir().resolve():
        return sorted(load_pack())
    if not path.exists():
        raise ScenarioError(str(path), "<file>", "no such scenario file or directory")
    return [str(file) for file in scenario_files(path)]


def load_scenario_file(path: str | Path) -> SearchQAScenario:
    """Loads one scenario file; a relative `corpus` is resolved against the file's folder."""
    scenario = load_scenario(path, SearchQAScenario)
    if scenario.corpus is not None and not Path(scenario.corpus).is_absolute():
        scenario = scenario.model_copy(
            update={"corpus": str((Path(path).parent / scenario.corpus).resolve())}
        )
    return scenario


def resolve_scenario(ref: str | Path | SearchQAScenario) -> SearchQAScenario:
    """A scenario from a packaged question id, a scenario file path, or a `SearchQAScenario` (returned as is)."""
    if isinstance(ref, SearchQAScenario):
        return ref
    if Path(ref).is_file():
        return load_scenario_file(ref)
    scenario = load_pack().get(str(ref))
    if scenario is None:
        raise ScenarioError(
            str(ref),
            "id",
            "no scenario file at this path and no packaged HotpotQA question with this id "
            "(list them with prm.envs.search_qa.scenario_ids())",
        )
    return scenario


class _PairsInline(yaml.SafeDumper):
    """Writes tuples (the [title, sentence] pairs of `supporting_facts`) on one line each."""


_PairsInline.add_representer(
    tuple, lambda dumper, pair: dumper.represent_sequence("tag:yaml.org,2002:seq", pair, flow_style=True)
)


def write_scenarios(
    questions: Sequence[tuple[SearchQAScenario, list[Document]]],
    out: str | Path,
    on_written: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Writes one `<id>.yaml` scenario file per question into `out` (what `prm scenario import` does).

    Paragraphs that the questions carry (the original HotpotQA layout) are merged into `out/corpus.jsonl.gz`
    (existing paragraphs there are kept) and the scenarios point at it; otherwise they use the packaged corpus.
    Two questions with one id raise `ScenarioError`. `on_written` is called after each file (progress bars).
    """
    out = Path(out)
    seen: set[str] = set()
    for scenario, _ in questions:
        if scenario.id in seen:
            raise ScenarioError(scenario.id, "id", "two questions have this id")
        seen.add(scenario.id)
    out.mkdir(parents=True, exist_ok=True)
    corpus_file = out / CORPUS_FILE
    paragraphs = {doc.title: doc for doc in read_corpus(corpus_file)} if corpus_file.is_file() else {}
    carried = False
    for _, docs in questions:
        for doc in docs:
            paragraphs.setdefault(doc.title, doc)
            carried = True
    if carried:
        write_corpus(corpus_file, paragraphs.values())
    written = []
    for scenario, docs in questions:
        if docs:
            scenario = scenario.model_copy(update={"corpus": CORPUS_FILE})
        path = out / f"{scenario.id}.yaml"
        data = scenario.model_dump(exclude_none=True)
        text = yaml.dump(data, Dumper=_PairsInline, sort_keys=False, allow_unicode=True, width=110)
        path.write_text(text, encoding="utf-8")
        written.append(path)
        if on_written is not None:
            on_written(path)
    return written


def import_hotpotqa(files: list[Path], out: Path, progress: Progress) -> list[Path]:
    """`prm scenario import hotpotqa FILE --out DIR`: a HotpotQA question file (JSON array or JSON Lines; the
    packaged pack's layout with `context_titles`, or the original release's with `_id` and `context`
    paragraphs) -> `DIR/<id>.yaml`, one scenario per question, plus `DIR/corpus.jsonl.gz` when the file
    carries paragraphs. Then: `prm run prm/search-qa-v0 --scenario DIR/<id>.yaml`."""
    if len(files) != 1:
        raise ScenarioError(", ".join(map(str, files)), "FILES", "hotpotqa takes one question file")
    (file,) = files
    reading = progress.add_task(f"reading {file.name}", total=None)
    questions = read_questions(file)
    progress.update(reading, total=1, completed=1)
    writing = progress.add_task(f"writing {out}", total=len(questions))
    return write_scenarios(questions, out, on_written=lambda _: progress.advance(writing))
