"""`prm/search-qa-v0`: tools, bad input, outcome, step signals, oracle, fork, modes, scenarios (real bm25s)."""

import json
import warnings

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

from prm.envs.search_qa import SearchQAEnv, exact_match, f1_score, load_pack, normalize_answer, scenario_ids
from prm.envs.search_qa.scenarios import load_scenario_file, pack_dir, write_scenarios
from prm.errors import ScenarioError

TINTED = "5a8ce55f554299441c6b9f62"  # "...debut album "Tinted Windows" ... first performance in what city?" -> Tulsa
SAMPLE = scenario_ids()[::20]  # 30 of the 600 packaged questions, train and dev


def call(tool: str, **args) -> str:
    return json.dumps({"tool": tool, "args": args})


def started(scenario: str = TINTED, **kwargs) -> SearchQAEnv:
    env = SearchQAEnv(scenario=scenario, **kwargs)
    env.reset(seed=0)
    return env


@pytest.mark.parametrize(("mode", "scenario"), [("open", TINTED), ("distractor", TINTED), ("open", None)])
def test_registered_and_check_env_passes(mode, scenario):
    env = gym.make("prm/search-qa-v0", scenario=scenario, mode=mode)
    assert isinstance(env.unwrapped, SearchQAEnv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env.unwrapped, skip_render_check=True)


def test_bad_make_arguments_are_named():
    with pytest.raises(ValueError, match="mode must be one of"):
        SearchQAEnv(mode="closed-book")
    with pytest.raises(ValueError, match="outcome_metric"):
        SearchQAEnv(outcome_metric="bleu")
    with pytest.raises(RuntimeError, match="reset"):
        SearchQAEnv().evidence_recall()


def test_reset_shows_the_question_and_tools_but_no_gold():
    env = SearchQAEnv(scenario=TINTED)
    observation, info = env.reset(seed=0)
    assert env.scenario.question in observation
    assert info["tools"] == ["search", "open", "answer"]
    assert (info["scenario_id"], info["mode"]) == (TINTED, "open")
    assert "Tulsa" not in observation and "Tinted Windows (band)" not in observation


def test_search_lists_quoted_doc_ids_with_numbered_snippets():
    env = started()
    observation, reward, terminated, truncated, info = env.step(
        call("search", query="Tinted Windows band", k=3)
    )
    assert (
        '"Tinted Windows (band)"' in observation and "[0] Tinted Windows is an American rock" in observation
    )
    assert observation.count("\n   [") == 3
    assert (reward, terminated, truncated, info["error"]) == (0.0, False, False, None)
    assert set(info["reward_components"]) == {"evidence_recall_gain", "redundancy"}


def test_a_query_matching_nothing_says_so():
    env = started()
    observation, _, terminated, _, info = env.step(call("search", query="the qwxzvj of"))
    assert observation.startswith('No results for "the qwxzvj of"') and info["error"] is None
    assert info["reward_components"] == {"evidence_recall_gain": 0.0, "redundancy": 0.0} and not terminated


def test_open_shows_the_paragraph_with_numbered_sentences():
    env = started()
    observation, _, _, _, info = env.step(call("open", doc_id="Tinted Windows (band)"))
    assert observation.startswith('"Tinted Windows (band)"\n[0] Tinted Windows is')
    assert "[3] The first performance by the band was on March 18, 2009" in observation
    assert info["error"] is None


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (call("search", query=""), "the query is empty"),
        (call("search", query="   "), "the query is empty"),
        (call("search", query="Tulsa", k=0), "greater than or equal to 1"),
        (call("search", query="Tulsa", k=21), "less than or equal to 20"),
        (call("search", query="x" * 501), "at most 500 characters"),
        (call("search", q="Tulsa"), "'query': Field required"),
        (call("open", doc_id="No Such Paragraph"), 'unknown doc id "No Such Paragraph"'),
        (call("answer"), "'text': Field required"),
        (call("browse", url="x"), "unknown tool 'browse'"),
    ],
)
def test_bad_input_explains_and_the_episode_goes_on(action, message):
    env = started()
    observation, reward, terminated, truncated, info = env.step(action)
    assert message in observation and message in info["error"]
    assert info["reward_components"] == {"invalid_action": 1.0}
    assert not (terminated or truncated)
    _, _, terminated, _, _ = env.step(call("answer", text="Tulsa"))
    assert terminated


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "the answer is empty"), ("  ", "the answer is empty"), ("Tulsa " * 40, "more than 200")],
)
def test_empty_or_huge_answer_ends_the_episode_scored_zero(text, problem):
    env = started()
    observation, reward, terminated, truncated, info = env.step(call("answer", text=text))
    assert (reward, terminated, truncated) == (0.0, True, False)
    assert problem in observation and problem in info["error"] and problem in info["outcome"]["answer_error"]
    assert info["reward_components"] == {"invalid_action": 1.0, "outcome": 0.0}
    assert info["outcome"]["f1"] == info["outcome"]["exact_match"] == 0.0


@pytest.mark.parametrize(
    ("answer", "metric", "reward", "em"),
    [
        ("Tulsa", "f1", 1.0, 1.0),
        ("the city of Tulsa!", "f1", 0.5, 0.0),
        ("Chicago", "f1", 0.0, 0.0),
        ("Tulsa, Oklahoma", "exact_match", 0.0, 0.0),
    ],
)
def test_answer_is_scored_with_hotpotqa_metrics(answer, metric, reward, em):
    env = started(outcome_metric=metric)
    observation, got, terminated, _, info = env.step(call("answer", text=answer))
    assert terminated and got == reward and info["reward_components"]["outcome"] == reward
    assert info["outcome"]["exact_match"] == em and info["outcome"]["answer"] == answer.strip()
    assert "Tulsa" not in observation or "Tulsa" in answer  # the gold answer is never revealed


def test_step_budget_truncates_with_a_zero_outcome():
    env = started(max_steps=2)
    env.step(call("search", query="Tinted Windows"))
    _, reward, terminated, truncated, info = env.step(call("search", query="Cain's Ballroom"))
    assert (terminated, truncated, reward) == (False, True, 0.0)
    assert info["outcome"]["answer"] is None and info["outcome"]["f1"] == 0.0


def test_evidence_recall_gain_and_redundancy_move_the_right_way():
    env = started()  # gold: ("Tinted Windows (album)", 0), ("Tinted Windows (band)", 3)
    components = lambda action: env.step(action)[4]["reward_components"]  # noqa: E731
    assert components(call("search", query="Scottish football referee")) == {
        "evidence_recall_gain": 0.0,
        "redundancy": 0.0,
    }
    assert components(call("open", doc_id="Tinted Windows (band)")) == {
        "evidence_recall_gain": 0.5,
        "redundancy": 0.0,
    }
    assert env.evidence_recall() == 0.5
    assert components(call("open", doc_id="Tinted Windows (band)")) == {
        "evidence_recall_gain": 0.0,
        "redundancy": 1.0,
    }
    # the snippet of "Tinted Windows (album)" for this query is its sentence 0, a gold sentence
    assert components(call("search", query="Tinted Windows eponymous debut album")) == {
        "evidence_recall_gain": 0.5,
        "redundancy": 0.0,
    }
    assert components(call("search", query="  tinted WINDOWS eponymous debut   album")) == {
        "evidence_recall_gain": 0.0,
        "redundancy": 1.0,
    }
    assert env.evidence_recall() == 1.0
    _, _, _, _, info = env.step(call("answer", text="Tulsa"))
    assert info["outcome"]["evidence_recall"] == 1.0


@pytest.mark.parametrize("mode", ["open", "distractor"])
def test_oracle_actions_solve_a_sample_with_reward_one(mode):
    env = SearchQAEnv(mode=mode)
    for scenario_id in SAMPLE:
        env.reset(seed=0, options={"scenario": scenario_id})
        gains = 0.0
        for action in env.oracle_actions():
            _, reward, terminated, truncated, info = env.step(action)
            assert info["error"] is None, (scenario_id, action, info["error"])
            gains += info["reward_components"].get("evidence_recall_gain", 0.0)
        assert (reward, terminated, truncated) == (1.0, True, False), scenario_id
        assert info["outcome"]["exact_match"] == 1.0 and env.evidence_recall() == 1.0
        assert gains == pytest.approx(1.0)
        assert env.gold_answer() == load_pack()[scenario_id].answer


def test_distractor_mode_searches_only_the_context_paragraphs():
    env = started(mode="distractor")
    context = set(env.scenario.context_titles)
    for query in ["Tinted Windows", "American rock band", "album released 2009", "music"]:
        observation = env.step(call("search", query=query, k=20))[0]
        ids = [
            json.loads(line.split(". ", 1)[1])
            for line in observation.splitlines()[1:]
            if not line.startswith(" ")
        ]
        assert ids and set(ids) <= context
    outside = "Fyre Festival"  # in the corpus, not among this question's paragraphs
    assert outside not in context
    _, _, _, _, info = env.step(call("open", doc_id=outside))
    assert "this question's paragraphs" in info["error"]
    index = env.backend
    env.reset(seed=1)
    assert env.backend is index  # a group of rollouts on one question builds its index once
    env.reset(seed=1, options={"scenario": SAMPLE[1]})
    assert env.backend is not index and {doc.title for doc in env.backend.documents} == set(
        env.scenario.context_titles
    )
    open_env = started(mode="open")
    assert open_env.step(call("open", doc_id=outside))[4]["error"] is None


def test_fork_is_independent_and_shares_the_backend():
    env = started()
    env.step(call("open", doc_id="Tinted Windows (band)"))
    child = env.fork()
    assert child.backend is env.backend and child.evidence_recall() == env.evidence_recall() == 0.5
    _, reward, terminated, _, info = child.step(call("open", doc_id="Tinted Windows (album)"))
    assert child.evidence_recall() == 1.0 and env.evidence_recall() == 0.5
    assert len(child.history) == 2 and len(env.history) == 1
    assert env.step(call("open", doc_id="Tinted Windows (band)"))[4]["reward_components"]["redundancy"] == 1.0
    assert child.step(call("answer", text="Tulsa"))[1] == 1.0
    _, reward, terminated, _, info = env.step(call("answer", text="Chicago"))
    assert (reward, terminated, info["step"]) == (0.0, True, 3)


def test_no_scenario_draws_a_packaged_question_from_the_seed():
    env = SearchQAEnv()
    first, info = env.reset(seed=7)
    assert env.scenario.id == info["scenario_id"] and info["scenario_id"] in load_pack()
    assert env.reset(seed=7)[0] == first
    drawn = set()
    for seed in range(8):
        env.reset(seed=seed)
        drawn.add(env.scenario.id)
    assert len(drawn) > 1


def test_scenario_file_and_bad_references(tmp_path):
    [path] = write_scenarios([(load_pack()[TINTED], [])], tmp_path)
    env = SearchQAEnv(scenario=str(path))
    env.reset(seed=0)
    assert env.scenario == load_pack()[TINTED]
    bad = tmp_path / "bad.yaml"
    bad.write_text(path.read_text().replace("answer: Tulsa", "answer: ''"))
    with pytest.raises(ScenarioError, match="field 'answer'"):
        SearchQAEnv(scenario=str(bad))
    with pytest.raises(ScenarioError, match="field 'id'.*scenario_ids"):
        SearchQAEnv(scenario="no-such-question")
    missing = tmp_path / "missing.yaml"
    missing.write_text(path.read_text().replace("Tinted Windows (band)", "Not In The Corpus"))
    with pytest.raises(ScenarioError, match="'Not In The Corpus' is not in the corpus"):
        SearchQAEnv(scenario=str(missing)).reset(seed=0)


def test_every_packaged_question_round_trips_through_a_yaml_scenario_file(tmp_path):
    pack = load_pack()
    files = write_scenarios([(scenario, []) for scenario in pack.values()], tmp_path)
    assert len(files) == 600
    assert all(load_scenario_file(path) == pack[path.stem] for path in files)


def test_scenario_ids_enumerate_what_scenario_accepts(tmp_path):
    ids = scenario_ids()
    assert len(ids) == 600 and len(scenario_ids("train")) == len(scenario_ids("dev")) == 300
    assert ids == sorted(ids) and SearchQAEnv.scenario_ids() == ids == scenario_ids(pack_dir())
    write_scenarios([(load_pack()[i], []) for i in ids[:3]], tmp_path)
    files = scenario_ids(tmp_path)
    assert [p.rsplit("/", 1)[1] for p in files] == [f"{i}.yaml" for i in ids[:3]]
    assert SearchQAEnv(scenario=files[0]).reset(seed=0)[0] == SearchQAEnv(scenario=ids[0]).reset(seed=0)[0]


def test_hotpotqa_answer_metrics():
    assert normalize_answer("The  Beatles, a band!") == "beatles band"
    assert exact_match("an Apple", "apple.") == 1.0 and exact_match("apples", "apple") == 0.0
    assert f1_score("yes", "yes") == 1.0 and f1_score("yes", "no") == 0.0 and f1_score("no way", "no") == 0.0
    assert f1_score("New York City", "New York") == pytest.approx(0.8)
    assert f1_score("", "Tulsa") == 0.0


def test_native_components_become_reward_through_reward_weights():
    env = started(reward_weights={"evidence_recall_gain": 1.0, "redundancy": -0.25, "invalid_action": -0.5})
    assert env.step(call("open", doc_id="Tinted Windows (band)"))[1] == 0.5
    assert env.step(call("open", doc_id="Tinted Windows (band)"))[1] == -0.25
    assert env.step(call("search", query=""))[1] == -0.5
    assert env.step(call("answer", text="Tulsa"))[1] == 1.0
