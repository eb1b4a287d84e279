"""`prm/web-v0`: web tasks in a real headless Chromium (Debian's) through Playwright.

>>> from prm.envs.web.env import WebEnv
>>> ids = WebEnv.scenario_ids()
>>> sum(i.startswith("miniwob.") for i in ids) >= 30, sum(i.startswith("app.") for i in ids) >= 5
(True, True)

See `prm.envs.web.env` for the tools, observation, outcome and fork, `.page_text` for the accessibility tree
and its ids, `.browser` for the shared browser, `.server` for the loopback page server, `.scenario` for the
scenario format (MiniWoB++ tasks and authored apps), `.oracle` for the scripted solutions, `.validate` for
`prm scenario validate`, `.bench` for `prm bench web`.
"""

from prm.family import Family, lazy_exports

FAMILY = Family(
    name="web",
    env_id="prm/web-v0",
    env="prm.envs.web.env:WebEnv",
    loader="prm.envs.web.scenario:load_scenario_file",
    validator="prm.envs.web.validate:validate_scenario_file",
    benches={"web": "prm.envs.web.cli:bench"},
    hostile="prm.envs.web.hostile:TARGET",
)

__all__ = ["FAMILY", "SharedBrowser", "PageServer", "WebEnv", "WebScenario", "read_page", "solve"]
__getattr__ = lazy_exports(
    __name__,
    {
        "SharedBrowser": ".browser",
        "PageServer": ".server",
        "WebEnv": ".env",
        "WebScenario": ".scenario",
        "read_page": ".page_text",
        "solve": ".oracle",
    },
)
