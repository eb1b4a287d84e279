"""`prm bench model-rewards` on a few search-QA scenarios: a tiny judge fitted on half of them, the implicit
PRM and info_gain scored on the other half's labelled steps."""

import pytest

import prm  # noqa: F401
from prm.bench.model_rewards import labelled_episode, run_model_reward_benchmark
from prm.envs.search_qa import scenario_ids


def test_labelled_episode_has_good_and_harmful_steps_with_judge_prompts():
    steps = labelled_episode(scenario_ids()[0], ["info_gain"])
    assert [s.category for s in steps[:3]] == ["oracle", "repeat", "off-topic"]
    assert {s.label for s in steps} == {"good", "harmful"}
    assert all("STEP TO JUDGE" in s.prompt and "info_gain" in s.components for s in steps)
    assert steps[1].components["info_gain"] < steps[0].components["info_gain"]  # a repeat gains nothing


def test_model_signals_get_auroc_beside_info_gain(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("PRM_CACHE_DIR", str(tmp_path / "cache"))
    implicit = f"implicit:policy={tiny_models.fitted},ref={tiny_models.random},beta=1"
    rows = run_model_reward_benchmark(scenario_ids()[:4], tmp_path, signals=[implicit], fit_seconds=20)
    by_name = {row.signal: row for row in rows}
    assert list(by_name) == ["info_gain", "implicit", "judge"]
    total = by_name["info_gain"].good + by_name["info_gain"].harmful
    assert total > 0 and by_name["info_gain"].auroc is not None and by_name["info_gain"].auroc > 0.5
    assert (
        by_name["implicit"].good + by_name["implicit"].harmful == total
        and 0 <= by_name["implicit"].auroc <= 1
    )
    judge = by_name["judge"]
    assert judge.good + judge.harmful + judge.unscored == total
    assert judge.auroc is None or 0 <= judge.auroc <= 1
    with pytest.raises(ValueError, match="at least 2 scenarios"):
        run_model_reward_benchmark(scenario_ids()[:1], tmp_path)
