"""`prm/search-qa-v0`: multi-hop question answering (HotpotQA) over a searchable corpus.

>>> import gymnasium as gym, prm
>>> env = gym.make("prm/search-qa-v0", scenario=scenario_ids("dev")[0], mode="distractor")
>>> observation, info = env.reset(seed=0)
>>> observation.startswith("Answer the question")
True

See `prm.envs.search_qa.env` for the tools, modes, outcome and step signals, `.backend` for plugging in
another search engine, `.scenarios` for the scenario format and the packaged pack.
"""

from .backend import BM25Backend, Document, Hit, SearchBackend, read_corpus, write_corpus
from .env import SearchQAEnv
from .metrics import exact_match, f1_score, normalize_answer
from .scenarios import SearchQAScenario, load_pack, read_questions, resolve_scenario, scenario_ids

__all__ = [
    "BM25Backend",
    "Document",
    "Hit",
    "SearchBackend",
    "SearchQAEnv",
    "SearchQAScenario",
    "exact_match",
    "f1_score",
    "load_pack",
    "normalize_answer",
    "read_corpus",
    "read_questions",
    "resolve_scenario",
    "scenario_ids",
    "write_corpus",
]
