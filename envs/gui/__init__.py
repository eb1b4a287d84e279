"""`prm/gui-v0`: real X11 desktop applications (Mousepad, Gnumeric, Galculator) under Xvfb in a Docker sandbox.

See `prm.envs.gui.env` for the episode, observations, outcome and fork; `.tools` for the actions; `.scenario` for
the scenario format and the packaged pack; `.desktop` for the image and the display inside the sandbox;
`.validate` for `prm scenario validate`; `.bench` for `prm bench gui`.
"""

from prm.family import Family, lazy_exports

FAMILY = Family(
    name="gui",
    env_id="prm/gui-v0",
    env="prm.envs.gui.env:GuiEnv",
    loader="prm.envs.gui.scenario:load_gui_scenario",
    validator="prm.envs.gui.validate:validate_scenario_file",
    benches={"gui": "prm.envs.gui.cli:bench"},
    hostile="prm.envs.gui.hostile:TARGET",
)

__all__ = ["FAMILY", "GuiEnv", "GuiScenario", "load_gui_scenario", "scenario_ids"]
__getattr__ = lazy_exports(
    __name__,
    {
        "GuiEnv": ".env",
        "GuiScenario": ".scenario",
        "load_gui_scenario": ".scenario",
        "scenario_ids": ".scenario",
    },
)
