"""`prm bench model-rewards` on a few search-QA scenarios: a tiny judge and a tiny implicit PRM fitted on half of
them, and a judge served over HTTP on loopback, scored offline beside info_gain on the other half's steps."""

import pytest

import prm  # noqa: F401
from prm.bench.chat_server import ChatServer
from prm.bench.model_rewards import run_model_reward_benchmark, search_qa_episode
from prm.envs.search_qa import scenario_ids


def test_labelled_episode_has_good_and_harmful_steps_indexing_the_recorded_episode():
    episode = search_qa_episode(scenario_ids()[0])
    steps = episode.steps
    assert [s.category for s in steps[:3]] == ["oracle", "repeat", "off-topic"]
    assert {s.label for s in steps} == {"good", "harmful"} and all("info_gain" in s.components for s in steps)
    assert steps[1].components["info_gain"] < steps[0].components["info_gain"]  # a repeat gains nothing
    recorded = episode.trajectory.steps
    assert len(recorded) == len(steps) and recorded[1].action == recorded[0].action
    assert "weather forecast" in recorded[2].action and "STEP TO JUDGE" in episode.judge_prompt(steps[2])
    assert episode.judge_prompt(steps[2]).endswith(str(recorded[2].observation))


def off_topic_is_irrecoverable(messages, tools):
    """A stand-in endpoint judge: the off-topic search is irrecoverable, everything else correct."""
    step = messages[-1]["content"].rpartition("STEP TO JUDGE:")[2]
    return "VERDICT: irrecoverable" if "weather forecast" in step else "VERDICT: correct"


def test_model_signals_get_auroc_beside_info_gain(tmp_path, monkeypatch):
    monkeypatch.setenv("PRM_CACHE_DIR", str(tmp_path / "cache"))
    with ChatServer(off_topic_is_irrecoverable) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        rows = run_model_reward_benchmark(
            scenario_ids()[:4], [], tmp_path, judge_model="judge", fit_seconds=5
        )
    by_name = {row.signal: row for row in rows}
    assert list(by_name) == ["info_gain", "judge (tiny)", "implicit (tiny)", "judge (endpoint)"]
    total = by_name["info_gain"].good + by_name["info_gain"].harmful
    assert total > 0 and by_name["info_gain"].auroc > 0.5
    implicit = by_name["implicit (tiny)"]
    assert implicit.good + implicit.harmful == total and 0 <= implicit.auroc <= 1
    tiny = by_name["judge (tiny)"]
    assert tiny.good + tiny.harmful + tiny.unscored == total
    assert tiny.auroc is None or 0 <= tiny.auroc <= 1
    endpoint = by_name["judge (endpoint)"]
    # every good step +1; of the two harmful steps per scenario, the off-topic one -1, the repeat +1
    assert (endpoint.auroc, endpoint.unscored) == (0.75, 0) and endpoint.harmful == 2 * 2
    assert len(server.requests) == endpoint.good + endpoint.harmful  # the test half only, each step once
    with pytest.raises(ValueError, match="at least 2 scenarios"):
        run_model_reward_benchmark(scenario_ids()[:1], [], tmp_path)
