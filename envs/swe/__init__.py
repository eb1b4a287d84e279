"""`prm/swe-v0`: bug fixing in real Python repositories inside a sandbox (see `prm.envs.swe.env`).

Scenarios: `scenario_ids()` lists the packaged pack, `scenario_paths(ref)` the files an id, file or directory
names, `load_swe_scenario(ref)` loads one; `prm.envs.swe.validate.validate_scenario_file(path)` runs the checks of
`prm scenario validate`.
"""

from prm.envs.swe.env import SweEnv
from prm.envs.swe.scenario import SweScenario, load_swe_scenario, scenario_ids, scenario_paths

__all__ = ["SweEnv", "SweScenario", "load_swe_scenario", "scenario_ids", "scenario_paths"]
