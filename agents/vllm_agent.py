"""`VLLMAgent`: an in-process `vllm.LLM` as the policy (GPU), with the same records as `TransformersAgent`.

vLLM is imported when the agent is built, never when `prm.agents` is imported; without it the constructor
raises `BackendUnavailable` with the install command (`pip install -e .[vllm]`), not an ImportError trace.
Prompts, token counts and records come from `LocalModelAgent` (shared with `TransformersAgent`, whose tests
run that code on CPU): vLLM's tokenizer is a Hugging Face one, so the prompt ids are the chat template's, and
each step records the prompt and completion token ids and the sampled tokens' log-probabilities (vLLM's
`logprobs=0`: the chosen token's log-probability under the sampling distribution).

>>> from prm.agents import VLLMAgent
>>> agent = VLLMAgent("Qwen/Qwen2.5-0.5B-Instruct", temperature=0.7, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from prm.agent_protocol import AgentError, PolicyUnavailable
from prm.agents.local_model import LocalModelAgent
from prm.agents.model import Generation
from prm.agents.prompt import Message


class BackendUnavailable(AgentError):
    """The agent's back end library is not installed (or cannot start) on this machine."""


class VLLMAgent(LocalModelAgent):
    def __init__(
        self,
        model_or_path: str,
        *,
        max_new_tokens: int = 512,
        context_tokens: int | None = None,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = 0,
        **llm_kwargs: Any,
    ):
        try:
            import vllm
        except ImportError as err:
            raise BackendUnavailable(
                f"VLLMAgent needs vllm, which is not installed here ({err}); install it with "
                "`pip install -e .[vllm]` on a machine with a GPU, or use --agent hf:PATH"
            ) from None
        self.llm = vllm.LLM(model=str(model_or_path), seed=seed or 0, **llm_kwargs)
        context = context_tokens or self.llm.llm_engine.model_config.max_model_len
        super().__init__(self.llm.get_tokenizer(), context_tokens=context, max_new_tokens=max_new_tokens)
        self.sampling = vllm.SamplingParams(
            max_tokens=max_new_tokens, temperature=temperature, top_p=top_p, logprobs=0, seed=seed
        )

    def _generate(
        self, chats: list[list[Message]], tools: list[list[dict[str, Any]]]
    ) -> list[Generation | PolicyUnavailable]:
        prompts = [self.prompt_ids(chat) for chat in chats]
        outputs = self.llm.generate(
            [{"prompt_token_ids": ids} for ids in prompts], self.sampling, use_tqdm=False
        )
        generations: list[Generation | PolicyUnavailable] = []
        for prompt, output in zip(prompts, outputs, strict=True):
            completion = output.outputs[0]
            ids = list(completion.token_ids)
            logprobs = [step[token].logprob for step, token in zip(completion.logprobs, ids, strict=True)]
            generations.append(self.token_generation(prompt, ids, logprobs, text=completion.text))
        return generations
