"""`prm/swe-v0`: bug fixing in real Python repositories inside a sandbox (see `prm.envs.swe.env`).

Scenarios: `scenario_ids()` lists the packaged pack, `scenario_paths(ref)` the files an id, file or directory
names, `load_swe_scenario(ref)` loads one; `prm.envs.swe.validate.validate_scenario_file(path)` runs the checks of
`prm scenario validate`; `prm bench swe` times it (`prm.envs.swe.bench`). `prm scenario synth` plants bugs in a
package by AST mutation and keeps those its tests prove (`prm.envs.swe.synth`); `prm bench synth` reports its rate.
"""

from prm.family import Family, lazy_exports

FAMILY = Family(
    name="swe",
    env_id="prm/swe-v0",
    env="prm.envs.swe.env:SweEnv",
    loader="prm.envs.swe.scenario:load_swe_scenario",
    validator="prm.envs.swe.validate:validate_scenario_file",
    benches={"swe": "prm.envs.swe.cli:bench", "synth": "prm.envs.swe.cli:bench_synth"},
    scenario_commands={"synth": "prm.envs.swe.cli:synth"},
    hostile="prm.envs.swe.hostile:TARGET",
    repairs_code=True,
)

__all__ = ["FAMILY", "SweEnv", "SweScenario", "load_swe_scenario", "scenario_ids", "scenario_paths"]
__getattr__ = lazy_exports(
    __name__,
    {
        "SweEnv": ".env",
        "SweScenario": ".scenario",
        "load_swe_scenario": ".scenario",
        "scenario_ids": ".scenario",
        "scenario_paths": ".scenario",
    },
)
