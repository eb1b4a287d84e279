"""`prm/data-analysis-v0`: answer DABench questions about CSV tables by running Python in a sandboxed kernel.

>>> import gymnasium as gym, prm
>>> env = gym.make("prm/data-analysis-v0", scenario="dabench-0")  # doctest: +SKIP

See `prm.envs.data_analysis.env` for the tools, outcome, step signals and fork, `.kernel` for the persistent
kernel (timeouts, restarts, limits), `.answers` for DABench's answer format and its grading, `.scenario` for
the scenario format, the packaged pack and the DABench importer, `.validate` for `prm scenario validate`,
`.bench` for `prm bench data`.
"""

from prm.family import Family, lazy_exports

FAMILY = Family(
    name="data_analysis",
    env_id="prm/data-analysis-v0",
    env="prm.envs.data_analysis.env:DataAnalysisEnv",
    loader="prm.envs.data_analysis.scenario:load_data_scenario",
    importers={"dabench": "prm.envs.data_analysis.scenario:import_dabench"},
    validator="prm.envs.data_analysis.validate:validate_scenario_file",
    benches={"data": "prm.envs.data_analysis.cli:bench"},
    hostile="prm.envs.data_analysis.hostile:TARGET",
)

__all__ = [
    "FAMILY",
    "DataAnalysisEnv",
    "DataAnalysisScenario",
    "Kernel",
    "load_data_scenario",
    "parse_answer",
    "score_answer",
]
__getattr__ = lazy_exports(
    __name__,
    {
        "DataAnalysisEnv": ".env",
        "DataAnalysisScenario": ".scenario",
        "load_data_scenario": ".scenario",
        "Kernel": ".kernel",
        "parse_answer": ".answers",
        "score_answer": ".answers",
    },
)
