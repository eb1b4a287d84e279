"""`prm scenario import hotpotqa` and `prm bench search` (run through the real typer app)."""

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from prm.cli import app
from prm.envs.search_qa import SearchQAEnv, load_pack, read_corpus, scenario_ids
from prm.envs.search_qa.scenarios import packaged_corpus

runner = CliRunner()
IDS = scenario_ids("dev")[:3]


def play_oracle(scenario: str, **kwargs) -> float:
    env = SearchQAEnv(scenario=scenario, **kwargs)
    env.reset(seed=0)
    for action in env.oracle_actions():
        _, reward, terminated, _, _ = env.step(action)
    assert terminated
    return reward


def test_import_pack_layout_writes_one_playable_file_per_question(tmp_path):
    source = tmp_path / "questions.jsonl"
    source.write_text(
        "".join(json.dumps(load_pack()[i].model_dump(exclude_defaults=True)) + "\n" for i in IDS)
    )
    result = runner.invoke(
        app, ["scenario", "import", "hotpotqa", str(source), "--out", str(tmp_path / "pack")]
    )
    assert result.exit_code == 0, result.output
    assert "imported 3 scenarios" in result.output
    files = scenario_ids(tmp_path / "pack")
    assert [f.rsplit("/", 1)[1] for f in files] == [f"{i}.yaml" for i in IDS]
    assert "corpus" not in yaml.safe_load(Path(files[0]).read_text())  # uses the packaged corpus
    assert [play_oracle(f) for f in files] == [1.0, 1.0, 1.0]


def test_import_original_layout_carries_its_paragraphs_into_a_corpus(tmp_path):
    paragraphs = {doc.title: doc for doc in read_corpus(packaged_corpus())}
    records = []
    for scenario_id in IDS:
        scenario = load_pack()[scenario_id]
        records.append(
            {
                "_id": scenario.id,
                "question": scenario.question,
                "answer": scenario.answer,
                "type": scenario.type,
                "level": scenario.level,
                "supporting_facts": [list(fact) for fact in scenario.supporting_facts],
                "context": [[title, list(paragraphs[title].sentences)] for title in scenario.context_titles],
            }
        )
    source = tmp_path / "hotpot_dev_distractor.json"
    source.write_text(json.dumps(records))
    out = tmp_path / "pack"
    result = runner.invoke(app, ["scenario", "import", "hotpotqa", str(source), "--out", str(out)])
    assert result.exit_code == 0, result.output
    corpus = read_corpus(out / "corpus.jsonl.gz")
    assert len(corpus) == len({t for r in records for t, _ in r["context"]})
    first = out / f"{IDS[0]}.yaml"
    assert yaml.safe_load(first.read_text())["corpus"] == "corpus.jsonl.gz"
    env = SearchQAEnv(scenario=str(first))
    env.reset(seed=0)
    assert env.scenario.corpus == str(out / "corpus.jsonl.gz")
    assert len(env.backend.documents) == len(corpus) < 100  # its own corpus, not the packaged one
    assert play_oracle(str(first)) == play_oracle(str(first), mode="distractor") == 1.0


def test_import_reports_the_bad_record_and_field(tmp_path):
    good = load_pack()[IDS[0]].model_dump(exclude_defaults=True)
    source = tmp_path / "bad.jsonl"
    source.write_text(
        json.dumps(good) + "\n" + json.dumps({**good, "id": "q2", "supporting_facts": []}) + "\n"
    )
    result = runner.invoke(
        app, ["scenario", "import", "hotpotqa", str(source), "--out", str(tmp_path / "out")]
    )
    assert result.exit_code == 2
    assert "bad.jsonl:2" in result.output and "supporting_facts" in result.output
    dup = tmp_path / "dup.jsonl"
    dup.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    result = runner.invoke(app, ["scenario", "import", "hotpotqa", str(dup), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "two questions have this id" in result.output
    past_the_end = {
        "_id": "q3",
        "question": "Q?",
        "answer": "A",
        "supporting_facts": [["T", 2]],
        "context": [["T", ["Only one sentence."]]],
    }
    (tmp_path / "original.json").write_text(json.dumps([past_the_end]))
    result = runner.invoke(
        app,
        ["scenario", "import", "hotpotqa", str(tmp_path / "original.json"), "--out", str(tmp_path / "out")],
    )
    assert result.exit_code == 2 and "original.json[0]" in result.output and "no sentence 2" in result.output
    result = runner.invoke(app, ["scenario", "import", "squad", str(source), "--out", str(tmp_path / "out")])
    assert result.exit_code != 0 and "unknown format 'squad'" in result.output


def test_bench_search_reports_every_measurement(tmp_path):
    out = tmp_path / "bench.json"
    result = runner.invoke(app, ["bench", "search", "--queries", "20", "--episodes", "3", "--json", str(out)])
    assert result.exit_code == 0, result.output
    numbers = json.loads(out.read_text())
    assert numbers["documents"] == 10785 and numbers["queries"] == 20
    assert set(numbers["latency_ms"]) == {"questions", "titles"}
    for rows in numbers["latency_ms"].values():
        assert set(rows) == {"bare bm25s retrieve", "BM25Backend.search", "env.step(search)"}
        assert rows["bare bm25s retrieve"]["ratio_p50"] == 1.0
    assert all(run["solved"] == run["episodes"] == 3 for run in numbers["throughput"].values())
    assert "target env.step(search) p50 < 2.0 ms on titles" in result.output
