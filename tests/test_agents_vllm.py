"""`VLLMAgent` where no GPU and no vllm are: its import path, its error, and the prompt and record code it runs.

vLLM itself needs a GPU and is not installed here. Everything of the agent that is not vLLM's own generate
call lives in `LocalModelAgent`, which `TransformersAgent` runs on CPU with a real tiny model; the tests below
check that the vLLM agent inherits that code unchanged and that the code gives what a trainer reads.
"""

import subprocess
import sys

import pytest

import prm  # noqa: F401
from prm.agents import BackendUnavailable, TransformersAgent, VLLMAgent, make_agent
from prm.agents.local_model import LocalModelAgent, chat_prompt_ids
from prm.agents.prompt import Conversation

SHARED = ("count_tokens", "prompt_ids", "token_generation", "act_batch", "reset")


def test_importing_the_package_and_its_cli_does_not_import_vllm():
    code = "import sys, prm, prm.agents, prm.agents.vllm_agent, prm.cli; print(sorted(m for m in sys.modules if m.split('.')[0] == 'vllm'))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_vllm_the_agent_is_a_clear_error_not_an_import_trace(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # `import vllm` fails as where it is not installed
    with pytest.raises(BackendUnavailable) as raised:
        make_agent("vllm:some/model", temperature=0.5)
    message = str(raised.value)
    assert "pip install -e .[vllm]" in message and "--agent hf:PATH" in message and "\n" not in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__  # no chained ImportError


def test_prm_run_with_vllm_missing_is_a_one_line_cli_error(monkeypatch):
    from typer.testing import CliRunner

    from prm.cli import app

    monkeypatch.setitem(sys.modules, "vllm", None)
    args = ["run", "prm/search-qa-v0", "--agent", "vllm:some/model", "--episodes", "1"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "VLLMAgent needs vllm" in result.output and "pip install -e .[vllm]" in result.output


def test_vllm_agent_runs_the_local_prompt_and_record_code_unchanged():
    assert issubclass(VLLMAgent, LocalModelAgent) and issubclass(TransformersAgent, LocalModelAgent)
    for name in SHARED:
        assert getattr(VLLMAgent, name) is getattr(LocalModelAgent, name) is getattr(TransformersAgent, name)


def test_local_prompt_and_records_are_what_a_trainer_reads(tiny_models):
    agent = TransformersAgent(tiny_models.random, do_sample=False, max_new_tokens=6)
    tokenizer = agent.tokenizer
    chat = Conversation("Find the answer.\n\nTools: search(query)")
    chat.add_turn('{"tool": "search", "args": {"query": "x"}}', "no hits " * 400)  # cut to the context
    messages = chat.messages(agent.count_tokens, agent.context_tokens - agent.max_new_tokens)
    prompt = agent.prompt_ids(messages)
    assert prompt == chat_prompt_ids(tokenizer, messages) and len(prompt) <= agent.context_tokens - 6
    assert tokenizer.decode(prompt[-1:]) == "<|assistant|>"  # ends with the assistant's turn opened
    (generation,) = agent._generate([messages], [[]])
    assert generation.prompt_ids == prompt and 0 < len(generation.completion_ids) <= 6
    assert len(generation.logprobs) == len(generation.completion_ids)
    assert all(lp <= 0.0 for lp in generation.logprobs)
    assert generation.usage == {
        "prompt_tokens": len(prompt),
        "completion_tokens": len(generation.completion_ids),
    }
    assert generation.text == tokenizer.decode(generation.completion_ids, skip_special_tokens=True)
    with pytest.raises(ValueError, match="2 log-probabilities for 3 completion tokens"):
        agent.token_generation(prompt, [5, 6, 7], [-0.1, -0.2])  # a back end's mismatched output is loud
    as_given = agent.token_generation(prompt, [5, 6], None, text="vLLM's own text")
    assert as_given.text == "vLLM's own text" and as_given.logprobs is None
