"""OpenAIChatAgent against real OpenAI-compatible HTTP servers on loopback: the tiny model, a scripted
responder, an endpoint that is down, one that answers 500 then recovers, one that answers garbage."""

import json
import socket

import prm  # noqa: F401
from prm.agents import OpenAIChatAgent, TransformersAgent
from prm.bench.chat_server import ChatServer
from prm.rollout import rollout

ENV = "prm/search-qa-v0"
SEARCH = json.dumps({"tool": "search", "args": {"query": "Tinted Windows"}})
ANSWER = json.dumps({"tool": "answer", "args": {"text": "Tulsa"}})


def scripted(messages, tools):
    """A stand-in model: search first, then answer in prose around the JSON (no native call)."""
    return SEARCH if len(messages) == 2 else f"I am sure now. {ANSWER}"


def agent(server_url, **options):
    return OpenAIChatAgent("tiny", base_url=server_url, **({"max_retries": 2, "timeout": 30} | options))


def test_tiny_model_served_over_http_plays_episodes(tiny_models):
    local = TransformersAgent(tiny_models.fitted, do_sample=False)

    def reply(messages, tools):
        return local._generate([messages], [tools])[0].text

    with ChatServer(reply) as server:
        trajectories = rollout(
            ENV,
            agent(server.base_url, context_tokens=384, max_new_tokens=40),
            scenarios=tiny_models.scenarios[:2],
            episodes=2,
            num_envs=2,
            env_kwargs={"max_steps": 2},
            show_progress=False,
        )
    tool_names = {tool["function"]["name"] for tool in server.requests[0]["tools"]}
    assert tool_names == {"search", "open", "answer"}
    assert len(server.requests) == 4
    for trajectory in trajectories:
        assert not trajectory.outcome.infra_error and trajectory.outcome.outcome["reward"] is not None
        for step in trajectory.steps:
            assert step.policy.usage["prompt_tokens"] > 0 and step.policy.latency_s > 0
            assert step.policy.messages[0]["role"] == "system"


def test_native_tool_calls_and_prose_become_env_actions():
    with ChatServer(scripted) as server:
        (trajectory,) = rollout(
            ENV, agent(server.base_url), scenarios="5a8ce55f554299441c6b9f62", show_progress=False
        )
    assert trajectory.actions == [SEARCH, f"I am sure now. {ANSWER}"]
    assert trajectory.outcome.outcome["exact_match"] == 1.0
    assert "choices" not in json.dumps(server.requests[1])  # the history went back as plain messages
    assert server.requests[1]["messages"][2] == {"role": "assistant", "content": SEARCH}


def test_endpoint_that_is_down_is_an_infrastructure_failure():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (trajectory,) = rollout(ENV, agent(f"http://127.0.0.1:{port}/v1", max_retries=1), show_progress=False)
    assert trajectory.outcome.infra_error is True
    assert trajectory.outcome.outcome["reward"] is None and trajectory.steps == []
    assert "APIConnectionError" in trajectory.outcome.outcome["infra_error"]


def test_500_then_recovery_is_retried_and_the_episode_counts():
    with ChatServer(scripted, failures={0: 500, 1: 503}) as server:
        (trajectory,) = rollout(
            ENV, agent(server.base_url), scenarios="5a8ce55f554299441c6b9f62", show_progress=False
        )
    assert len(server.requests) == 4  # two failures, then the two steps
    assert not trajectory.outcome.infra_error and trajectory.outcome.outcome["exact_match"] == 1.0


def test_garbage_answers_lose_the_episode_to_the_infrastructure_never_a_zero(tmp_path):
    with ChatServer(scripted, garbage=True) as server:
        (trajectory,) = rollout(ENV, agent(server.base_url), out=tmp_path, show_progress=False)
    assert trajectory.outcome.infra_error is True and trajectory.outcome.outcome["reward"] is None
    assert "not a chat completion" in trajectory.outcome.outcome["infra_error"]
    assert prm.load_trajectory(next(tmp_path.glob("*.jsonl"))).outcome.infra_error is True


def test_a_lost_episode_does_not_stop_the_others():
    broken, healthy = "5a8ce55f554299441c6b9f62", "5abf63f15542997ec76fd3ea"
    with ChatServer(scripted, fail_when="had their first performance") as server:
        lost, scored = rollout(
            ENV,
            agent(server.base_url, max_retries=0),
            scenarios=[broken, healthy],
            episodes=2,
            num_envs=2,
            show_progress=False,
        )
    assert lost.outcome.infra_error and lost.outcome.outcome["reward"] is None
    assert not scored.outcome.infra_error and scored.outcome.num_steps == 2
