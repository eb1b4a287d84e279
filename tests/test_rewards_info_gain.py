"""InformationGain on prm/search-qa-v0: the model-free EvidenceRecall scorer, and the LM scorer with a tiny
randomly initialised transformers model built from a config (saved to a temporary directory)."""

from __future__ import annotations

import gymnasium as gym
import pytest

import prm  # noqa: F401
from prm.agents import OracleAgent
from prm.errors import RewardSpecError
from prm.rewards import EvidenceRecall, InformationGain, apply_rewards
from prm.rewards.state_text import state_text
from prm.rollout import run_episode

QUESTION = "5a8ce55f554299441c6b9f62"
SEARCH_GOLD = '{"tool": "search", "args": {"query": "Tinted Windows (band)"}}'
SEARCH_OFF = '{"tool": "search", "args": {"query": "volcanic eruptions in Iceland"}}'


def search_env():
    return gym.make("prm/search-qa-v0", scenario=QUESTION)


def test_evidence_recall_rewards_new_evidence_and_penalises_repeats():
    env = InformationGain(search_env(), EvidenceRecall(), redundancy=0.5)
    env.reset(seed=0)
    gains = [
        env.step(act)[4]["reward_components"]["info_gain"] for act in (SEARCH_GOLD, SEARCH_OFF, SEARCH_GOLD)
    ]
    assert gains[0] > 0
    assert gains[1] == 0.0
    assert gains[2] == -0.5  # the same query again: nothing new, redundancy penalty


def test_evidence_recall_telescopes_over_the_oracle_episode():
    env = apply_rewards(search_env(), ["info_gain:scorer=evidence,redundancy=0"])
    trajectory = run_episode(env, OracleAgent(), seed=0)
    gains = [step.reward_components["info_gain"] for step in trajectory.steps]
    first = trajectory.steps[0].info["info_gain_potential"]["before"]
    last = trajectory.steps[-1].info["info_gain_potential"]["after"]
    assert first == 0.0 and last == 1.0 and sum(gains) == pytest.approx(last - first)


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A 2-layer GPT-2 with random weights and a byte-level BPE tokenizer trained (locally) on a few sentences,
    with merges: " Tulsa" (after "Answer:") is one token, "Tulsa" alone is two."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-lm")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        ["Tinted Windows is a band from Tulsa, Oklahoma. Where is the band from?\nAnswer: Tulsa"] * 20,
        vocab_size=400,
    )
    PreTrainedTokenizerFast(tokenizer_object=bpe).save_pretrained(folder)
    config = GPT2Config(vocab_size=bpe.get_vocab_size(), n_positions=512, n_embd=32, n_layer=2, n_head=2)
    import torch

    torch.manual_seed(0)
    GPT2LMHeadModel(config).save_pretrained(folder)
    return str(folder)


def test_lm_scorer_is_the_teacher_forced_log_probability_of_the_joined_texts_answer_span(tiny_lm):
    import torch

    from prm.rewards.lm_scorer import LMScorer

    scorer = LMScorer(tiny_lm, max_tokens=512)
    context, answer = "Where is the band from?", "Tulsa"
    tokens = scorer.tokenizer.convert_ids_to_tokens
    assert tokens(scorer.tokenizer(answer, add_special_tokens=False)["input_ids"]) == ["Tu", "lsa"]
    prompt_ids, answer_ids = scorer.split(context, answer)
    assert tokens(answer_ids) == ["ĠTulsa"]  # the prompt's last space merged into the answer: one token
    ids = prompt_ids + answer_ids
    assert ids == scorer.tokenizer(context + "\nAnswer: " + answer, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = scorer.model(torch.tensor([ids])).logits[0]
    expected = float(torch.log_softmax(logits[-2], -1)[ids[-1]])
    assert scorer.log_prob(context, answer) == pytest.approx(expected, abs=1e-4)
    assert scorer.log_prob(context, answer) < 0


def test_the_igpo_form_is_the_change_in_length_normalised_probability_and_the_last_turn_gets_the_outcome(
    tiny_lm,
):
    import math

    from prm.rewards.lm_scorer import LMScorer

    env = apply_rewards(search_env(), [f"info_gain:lm:model={tiny_lm},max_tokens=512,redundancy=0,form=igpo"])
    scorer = LMScorer(tiny_lm, max_tokens=512)
    env.reset(seed=0)
    log_probs = scorer.answer_log_probs(state_text(env), "Tulsa")
    before = math.exp(sum(log_probs) / len(log_probs))
    *_, info = env.step(SEARCH_GOLD)
    after_log_probs = scorer.answer_log_probs(state_text(env), "Tulsa")
    after = math.exp(sum(after_log_probs) / len(after_log_probs))
    assert info["info_gain_potential"]["before"] == pytest.approx(before, abs=1e-5)
    assert info["reward_components"]["info_gain"] == pytest.approx(after - before, abs=1e-5)
    assert 0.0 < before < 1.0
    _, reward, terminated, _, info = env.step('{"tool": "answer", "args": {"text": "Tulsa"}}')
    assert terminated and info["reward_components"]["info_gain"] == 0.0  # the outcome, not a gain
    assert reward == info["outcome"]["reward"] == 1.0
    with pytest.raises(RewardSpecError, match="apply to scorer=lm only"):
        apply_rewards(search_env(), ["info_gain:form=igpo"])


def test_information_gain_with_the_lm_scorer_is_the_change_in_log_probability(tiny_lm):
    from prm.rewards.lm_scorer import LMScorer

    env = apply_rewards(search_env(), [f"info_gain:lm:model={tiny_lm},max_tokens=512,redundancy=0"])
    scorer = LMScorer(tiny_lm, max_tokens=512)
    env.reset(seed=0)
    before = scorer.log_prob(state_text(env), "Tulsa")
    *_, info = env.step(SEARCH_GOLD)
    after = scorer.log_prob(state_text(env), "Tulsa")
    assert info["info_gain_potential"]["before"] == pytest.approx(before, abs=1e-4)
    assert info["reward_components"]["info_gain"] == pytest.approx(after - before, abs=1e-4)
    assert after != before


@pytest.fixture(scope="module")
def copying_lm(tmp_path_factory):
    """A 2-layer GPT-2, randomly initialised, then trained for a few seconds (CPU, seeded) to answer with the
    word of its context that is not filler: the behaviour a scorer needs for the sign of the gain to mean
    something. Word-level tokenizer; every other token (JSON, tool manual) is [UNK]."""
    import random

    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    answers = [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "golf",
        "hotel",
        "india",
        "juliet",
        "kilo",
        "lima",
    ]
    filler = ["the", "a", "of", "band", "city", "river", "page", "which", "look", "note", "[UNK]"]
    vocab = {w: i for i, w in enumerate(["[UNK]", "Answer", ":", *answers, *filler[:-1]])}
    tokenizer = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    rng = random.Random(0)
    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(
            vocab_size=len(vocab),
            n_positions=64,
            n_embd=32,
            n_layer=2,
            n_head=2,
            bos_token_id=0,
            eos_token_id=0,
        )
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(400):
        batch = []
        for _ in range(32):
            word, context = (
                rng.choice(answers),
                [vocab[rng.choice(filler)] for _ in range(rng.randint(3, 40))],
            )
            context.insert(rng.randint(0, len(context)), vocab[word])
            batch.append([0] * (43 - len(context)) + context + [vocab["Answer"], vocab[":"], vocab[word]])
        ids = torch.tensor(batch)
        labels = torch.full_like(ids, -100)
        labels[:, -1] = ids[:, -1]
        optimizer.zero_grad()
        model(ids, labels=labels).loss.backward()
        optimizer.step()
    folder = tmp_path_factory.mktemp("copying-lm")
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]").save_pretrained(folder)
    model.save_pretrained(folder)
    return str(folder)


def test_information_gain_rewards_the_step_that_surfaces_the_answer(copying_lm):
    from prm.rewards.lm_scorer import LMScorer
    from tests.reward_env import QuizEnv

    def gain(topic: str) -> float:
        env = InformationGain(QuizEnv(), LMScorer(copying_lm, max_tokens=40), redundancy=0)
        env.reset(seed=0)
        return env.step(f'{{"tool": "look", "args": {{"topic": "{topic}"}}}}')[4]["reward_components"][
            "info_gain"
        ]

    clue, noise = gain("clue"), gain("noise")
    assert clue > 1.0 > noise


def test_families_without_a_gold_answer_or_evidence_are_refused():
    from tests.reward_env import PackageEnv

    with pytest.raises(RewardSpecError, match="gold answer"):
        InformationGain(PackageEnv(), EvidenceRecall())
    with pytest.raises(RewardSpecError, match="cannot load scorer model"):
        apply_rewards(search_env(), ["info_gain:scorer=lm,model=/no/such/model"])
