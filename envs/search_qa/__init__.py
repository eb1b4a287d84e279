"""`prm/search-qa-v0`: multi-hop question answering (HotpotQA) over a searchable corpus.

>>> import gymnasium as gym, prm
>>> env = gym.make("prm/search-qa-v0", scenario=scenario_ids("dev")[0], mode="distractor")
>>> observation, info = env.reset(seed=0)
>>> observation.startswith("Answer the question")
True

See `prm.envs.search_qa.env` for the tools, modes, outcome and step signals, `.backend` for plugging in
another search engine, `.scenarios` for the scenario format, the packaged pack and the HotpotQA importer,
`.validate` for `prm scenario validate`, `.bench` for `prm bench search`.
"""

from prm.family import Family, lazy_exports

FAMILY = Family(
    name="search_qa",
    env_id="prm/search-qa-v0",
    env="prm.envs.search_qa.env:SearchQAEnv",
    loader="prm.envs.search_qa.scenarios:load_scenario_file",
    importers={"hotpotqa": "prm.envs.search_qa.scenarios:import_hotpotqa"},
    validator="prm.envs.search_qa.validate:validate_scenario_file",
    benches={"search": "prm.envs.search_qa.cli:bench"},
    hostile="prm.envs.search_qa.hostile:TARGET",
)

__all__ = [
    "FAMILY",
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
__getattr__ = lazy_exports(
    __name__,
    {
        "BM25Backend": ".backend",
        "Document": ".backend",
        "Hit": ".backend",
        "SearchBackend": ".backend",
        "read_corpus": ".backend",
        "write_corpus": ".backend",
        "SearchQAEnv": ".env",
        "exact_match": ".metrics",
        "f1_score": ".metrics",
        "normalize_answer": ".metrics",
        "SearchQAScenario": ".scenarios",
        "load_pack": ".scenarios",
        "read_questions": ".scenarios",
        "resolve_scenario": ".scenarios",
        "scenario_ids": ".scenarios",
    },
)
