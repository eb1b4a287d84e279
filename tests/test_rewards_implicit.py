"""`ImplicitPRM` (PRIME) with two tiny local models: the step reward equals the log-ratio computed by hand, and
`prm rescore` reproduces the online values from the recorded trajectory (other beta, other models)."""

import json

import gymnasium as gym
import pytest

import prm  # noqa: F401
from prm.agents import ScriptedAgent
from prm.agents.prompt import SYSTEM_PROMPT
from prm.rewards.rescore import rescore
from prm.rollout import rollout

ENV, SCENARIO = "prm/search-qa-v0", "5a8ce55f554299441c6b9f62"
SEARCH = json.dumps({"tool": "search", "args": {"query": "Tinted Windows band"}})
ANSWER = json.dumps({"tool": "answer", "args": {"text": "Tulsa"}})


def hand_log_prob(path, messages, action):
    """sum log p(action tokens | chat) with transformers directly, one forward pass over the whole sequence."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    context = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    target = tokenizer(action, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([context + target])).logits[0]
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return sum(float(log_probs[len(context) + i - 1, token]) for i, token in enumerate(target))


def test_implicit_reward_is_the_hand_computed_log_ratio(tiny_models):
    policy, ref = str(tiny_models.fitted), str(tiny_models.random)
    env = gym.make(ENV, scenario=SCENARIO, rewards=[f"implicit:policy={policy},ref={ref},beta=0.1"])
    first, _ = env.reset(seed=0)
    found, _, _, _, info = env.step(SEARCH)
    _, _, _, _, second = env.step(ANSWER)
    chat = [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": str(first)}]
    expected = 0.1 * (hand_log_prob(policy, chat, SEARCH) - hand_log_prob(ref, chat, SEARCH))
    assert info["reward_components"]["implicit"] == pytest.approx(expected, abs=1e-4)
    later = chat + [{"role": "assistant", "content": SEARCH}, {"role": "user", "content": str(found)}]
    assert second["implicit"]["policy"] == pytest.approx(hand_log_prob(policy, later, ANSWER), abs=1e-4)
    assert (
        info["implicit"]["policy"] > info["implicit"]["ref"]
    )  # the fitted model prefers the oracle's action


def test_rescore_offline_reproduces_online_implicit_rewards(tiny_models):
    policy, ref = str(tiny_models.fitted), str(tiny_models.random)
    (trajectory,) = rollout(
        ENV,
        ScriptedAgent([SEARCH, ANSWER]),
        scenarios=SCENARIO,
        rewards=[f"implicit:policy={policy},ref={ref},beta=0.1"],
        show_progress=False,
    )
    online = [step.reward_components["implicit"] for step in trajectory.steps]
    doubled = rescore(trajectory, [f"implicit:policy={policy},ref={ref},beta=0.2"])
    assert [s.reward_components["implicit"] for s in doubled.steps] == pytest.approx([2 * v for v in online])
    swapped = rescore(
        trajectory, [f"implicit:policy={ref},ref={policy},beta=0.1"]
    )  # recomputed from the text
    assert [s.reward_components["implicit"] for s in swapped.steps] == pytest.approx(
        [-v for v in online], abs=1e-5
    )
    assert all(value != 0 for value in online) and doubled.header.env_id == ENV
