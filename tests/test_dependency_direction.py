"""ARCHITECTURE.md's dependency direction: envs -> sandboxes -> prm core; rewards -> prm core; agents -> prm
core. Importing every reward module (and prm) loads no agent back end; the reward code that drives an agent
(judges, Monte Carlo provers) imports it where used. Importing the core loads no agent, no reward and no
family beyond the declarations that `prm.registration.FAMILY_PACKAGES` lists; and no module under `prm/`
names a family's env id or modules in its code (docstrings and help texts may show them as examples)."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import prm
import prm.rewards
from prm.registration import FAMILY_PACKAGES, families

APPLICATION_LAYERS = ("prm.cli", "prm.bench", "prm.integrations")
"""Under `prm/` but above the core: the command line, the benchmarks and the trainer integrations drive agents
and reward wrappers by design (`prm run --agent`, `prm bench rewards`)."""

NAMES_A_FAMILY_OPEN = {"prm/bench/agents.py", "prm/bench/model_rewards.py", "prm/cli/bench_scale.py"}
"""Modules still naming a family (open debt, left as they were): this set may only shrink."""


def loaded_after_import(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    """The modules starting with one of `prefixes` that a fresh interpreter holds after importing `modules`."""
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
        f"print(sorted(m for m in sys.modules if m.startswith({prefixes!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return ast.literal_eval(out.strip())


def test_reward_modules_import_no_agents():
    modules = [f"prm.rewards.{m.name}" for m in pkgutil.iter_modules(prm.rewards.__path__)]
    assert len(modules) > 10 and loaded_after_import(modules, ("prm.agents",)) == []


def test_core_imports_no_agents_rewards_or_family_code():
    core = [
        m.name
        for m in pkgutil.walk_packages(prm.__path__, "prm.")
        if m.name.partition(".")[2].partition(".")[0] not in ("envs", "agents", "rewards", "sandboxes")
        and not m.name.startswith(APPLICATION_LAYERS)
    ]
    assert {"prm.rollout", "prm.registration", "prm.env", "prm.agent_protocol"} <= set(core)
    loaded = loaded_after_import(core, ("prm.agents", "prm.rewards", "prm.envs"))
    assert loaded == sorted(["prm.envs", *FAMILY_PACKAGES])


def _code_strings(tree: ast.AST) -> list[ast.Constant]:
    """The string constants of a module that are not docstrings (string statements)."""
    docs = {id(n.value) for n in ast.walk(tree) if isinstance(n, ast.Expr)}
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def _family_names(path: Path, env_ids: set[str]) -> list[str]:
    """What in `path`'s code names a family: an import of `prm.envs.*`, a family's env id or module reference."""
    tree = ast.parse(path.read_text())
    imported = [
        name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
        if name.startswith("prm.envs.")
    ]
    named = [n.value for n in _code_strings(tree) if n.value in env_ids or n.value.startswith("prm.envs.")]
    return imported + named


def test_core_names_no_family_but_in_the_registry():
    root = Path(prm.__file__).parent
    env_ids = {family.env_id for family in families().values()}
    naming = {
        path.relative_to(root.parent).as_posix(): names
        for path in sorted(root.rglob("*.py"))
        if (names := _family_names(path, env_ids))
    }
    assert sorted(naming.pop("prm/registration.py")) == sorted(FAMILY_PACKAGES)
    assert set(naming) <= NAMES_A_FAMILY_OPEN, naming
