"""ARCHITECTURE.md's dependency direction: rewards -> prm core. Importing every reward module (and prm) loads
no agent back end; the reward code that drives an agent (judges, Monte Carlo provers) imports it where used."""

import pkgutil
import subprocess
import sys

import prm.rewards


def test_reward_modules_import_no_agents():
    modules = [f"prm.rewards.{m.name}" for m in pkgutil.iter_modules(prm.rewards.__path__)]
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
        "print(sorted(m for m in sys.modules if m.startswith('prm.agents')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert len(modules) > 10 and out.strip() == "[]"
