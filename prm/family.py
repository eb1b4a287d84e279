"""What an environment family declares, once, in its package's `__init__`: `FAMILY = Family(...)`.

Core code finds a family's parts only through this declaration (and `prm.registration.FAMILY_PACKAGES` lists the
packages): the env class behind the id, its scenario importers (`prm scenario import FORMAT`), its validator
(`prm scenario validate`), its own scenario verbs (`prm scenario NAME`) and its benchmarks (`prm bench NAME`). Parts are named as `"module:attribute"` strings
and imported only when used, so `import prm` stays fast and a family's heavy dependencies load only with it.

>>> from prm.family import Family
>>> family = Family(
...     name="toy",
...     env_id="prm/toy-v0",
...     env="prm.envs.toy.env:ToyEnv",
...     importers={"toyset": "prm.envs.toy.importer:import_toyset"},
... )
>>> family.env_id
'prm/toy-v0'

The contracts of the parts:
- importer: `(files: list[Path], out: Path, progress: rich.progress.Progress) -> list[Path]` (the files written);
  raises `ScenarioError` for bad input.
- loader: `(path: Path) -> ScenarioBase`, raises `ScenarioError`; `prm scenario validate` uses it to tell which
  family a file belongs to.
- validator: `(path: Path, *, sandbox: str, repeats: int, on_stage: Callable[[str], None]) -> Validation`; never
  raises for a bad scenario (the problem goes in the result).
- bench: a typer command function, registered as `prm bench NAME`.
- scenario command: a typer command function, registered as `prm scenario NAME`.
- hostile: a `prm.bench.hostile.Target`, what `prm bench hostile` attacks.
- repairs_code: a flag, not a part: the env offers what `prm bench rewards` drives (see the field).
"""

from __future__ import annotations

import contextlib
import importlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prm.errors import PrmError, SandboxError


def load_ref(ref: str) -> Any:
    """The object a `"module:attribute"` reference names (imported now)."""
    module, _, attribute = ref.partition(":")
    return getattr(importlib.import_module(module), attribute)


@dataclass(frozen=True)
class Family:
    """A family's declaration; every part but the env is optional."""

    name: str
    """The family's short name: its folder under `envs/` and `scenarios/`, and what `--family` takes."""
    env_id: str
    """The Gymnasium id, e.g. `prm/swe-v0`."""
    env: str
    """`"module:Class"` of the env (a `prm.env.PrmEnv`)."""
    loader: str | None = None
    """`"module:function"` that loads one scenario file of this family."""
    importers: Mapping[str, str] = field(default_factory=dict)
    """Data-set format (what `prm scenario import FORMAT` takes) -> `"module:function"`."""
    validator: str | None = None
    """`"module:function"` behind `prm scenario validate` for this family's files."""
    benches: Mapping[str, str] = field(default_factory=dict)
    """`prm bench NAME` -> `"module:command"` (a typer command function)."""
    scenario_commands: Mapping[str, str] = field(default_factory=dict)
    """`prm scenario NAME` -> `"module:command"` (a typer command function), e.g. a scenario generator."""
    hostile: str | None = None
    """`"module:TARGET"`: the family's `prm.bench.hostile.Target` (its env, shell-like tool and own attacks)
    for `prm bench hostile`."""
    repairs_code: bool = False
    """The env is a repository-repair task: Python source in `env.unwrapped.sandbox`, the tools `edit`, `bash`,
    `view`, `search` and `submit`, an oracle (`oracle_actions()`) made of `edit` calls, and a scenario naming
    its tests (`scenario.tests.fail_to_pass`, `.pass_to_pass`). `prm bench rewards` measures the code signals
    (`lsp`, `progress:test_pass`) on every such family."""

    def env_class(self) -> type:
        return load_ref(self.env)

    def load(self, path: Path) -> Any:
        if self.loader is None:
            raise NotImplementedError(f"family '{self.name}' declares no scenario loader")
        return load_ref(self.loader)(path)


@dataclass
class Validation:
    """The verdict of a family's validator on one scenario file: `problem` is None when every check passed.
    A family subclasses it to keep its details and to say what the table shows (`checks`), and runs its
    checks inside `recording`."""

    path: Path
    scenario_id: str | None = None
    repeats: int = 0
    problem: str | None = None
    infra_error: bool = False
    """The problem is the sandbox's (`SandboxError`), not the scenario's."""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.problem is None

    def checks(self) -> dict[str, str]:
        """What `prm scenario validate` shows for this file: column -> short text, e.g. `{"gold": "5/5 pass"}`."""
        return {}

    @contextlib.contextmanager
    def recording(
        self,
        on_stage: Callable[[str], None] | None = None,
        *,
        errors: tuple[type[BaseException], ...] = (PrmError,),
    ) -> Iterator[ValidationRun]:
        """Runs a validator's checks on this file: times them, closes the envs they open (`run.open`), and
        turns one of `errors` (a bad scenario, a failed check) into `problem` rather than raising:

            result = Validation(Path(path))
            with result.recording(on_stage) as run:
                run.stage("loading scenario")
                env = run.open(MyEnv(path))
                for _ in run.rounds(repeats, "oracle episode"):
                    check_one_episode(env)
            return result
        """
        started = time.monotonic()
        try:
            with contextlib.ExitStack() as opened:
                yield ValidationRun(self, on_stage or (lambda _: None), opened)
        except errors as err:
            self.problem = str(err)
            self.infra_error = isinstance(err, SandboxError)
        finally:
            self.seconds = time.monotonic() - started


@dataclass
class ValidationRun:
    """What a validator's checks use inside `Validation.recording`."""

    result: Validation
    stage: Callable[[str], None]
    """Reports the stage the checks are in (the CLI shows it beside the progress bar)."""
    opened: contextlib.ExitStack

    def open(self, env: Any) -> Any:
        """`env`, closed when the checks end whatever happens."""
        self.opened.callback(env.close)
        return env

    def rounds(self, repeats: int, what: str) -> Iterator[int]:
        """Round indices 0..repeats-1, each announced as a stage; `result.repeats` counts the rounds that ended."""
        for index in range(repeats):
            self.stage(f"round {index + 1}/{repeats}: {what}")
            yield index
            self.result.repeats = index + 1


def lazy_exports(package: str, exports: Mapping[str, str]) -> Any:
    """A module `__getattr__` that imports `exports` (name -> submodule, relative to `package`) on first use.

    A family's `__init__` keeps only its `FAMILY` declaration eager, so that `import prm` (which reads every
    declaration) does not import every family's dependencies:

        __getattr__ = lazy_exports(__name__, {"SweEnv": ".env"})
    """

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name], package), name)

    return __getattr__
