"""Load: oracle episodes across the families at 4 envs at once, and what they leave behind.

`run_load` plays `episodes` oracle episodes split evenly over the families (each family's hostile target
scenario, `num_envs` envs at once, one rollout per family after the other) and counts, before and after:

- containers: sandbox containers (running or not) labelled with this process as their owner;
- processes: this process's descendants (by command name);
- temp files: entries in a temporary directory private to the run (`TMPDIR` and `tempfile.tempdir` point
  there while it runs, and sandbox workspaces go there too);
- fds: this process's open file descriptors;

and waits up to `settle_s` for what closes in the background (used sandboxes are closed by a background thread)
before it counts the "after". Nothing may be left; what is shared by design across episodes of a process (the
one headless Chromium of the web family, `prm.envs.web.browser.SharedBrowser`) is listed separately.

>>> result = run_load(["search_qa"], episodes=4)  # doctest: +SKIP
>>> result.left()  # doctest: +SKIP
{}
"""

from __future__ import annotations

import collections
import gc
import os
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SHARED_BY_DESIGN = ("chromium", "chrome_crashpad", "node", "node-MainThread")
"""Process names that live as long as the process by design: the web family's one shared browser (Chromium,
its crash handler, and Playwright's driver)."""
SHARED_TEMP_PREFIXES = ("org.chromium.Chromium.", "playwright")
"""Temporary directories of that shared browser (its profile and Playwright's artifacts), gone with it."""


@dataclass(frozen=True)
class Footprint:
    containers: frozenset[str]
    processes: collections.Counter[str]
    temp_entries: frozenset[str]
    fds: int


def footprint(temp_dir: Path) -> Footprint:
    """What this process holds now (see the module docstring), after a garbage collection (a docker client in
    a reference cycle holds its sockets until then)."""
    import docker
    import psutil

    gc.collect()
    client = docker.from_env()
    try:
        listed = client.api.containers(all=True, filters={"label": f"prm.owner.pid={os.getpid()}"})
    finally:
        client.close()
    me = psutil.Process()
    names = collections.Counter()
    for child in me.children(recursive=True):
        try:
            names[child.name()] += 1
        except psutil.Error:
            continue
    return Footprint(
        containers=frozenset(c["Id"][:12] for c in listed),
        processes=names,
        temp_entries=frozenset(entry.name for entry in temp_dir.iterdir()),
        fds=me.num_fds(),
    )


@dataclass
class LoadResult:
    before: Footprint
    after: Footprint
    episodes: dict[str, int] = field(default_factory=dict)
    graded: dict[str, int] = field(default_factory=dict)
    """Family -> episodes that ended with a reward (not an infrastructure failure)."""
    wall_s: dict[str, float] = field(default_factory=dict)

    def left(self) -> dict[str, object]:
        """What the run left behind (empty when nothing), beyond what is shared by design."""
        extra = self.after.processes - self.before.processes
        left: dict[str, object] = {
            "containers": sorted(self.after.containers - self.before.containers),
            "processes": {n: c for n, c in extra.items() if n not in SHARED_BY_DESIGN},
            "temp files": [name for name in self._new_temp() if not name.startswith(SHARED_TEMP_PREFIXES)],
        }
        if self.after.fds > self.before.fds + self.shared_fds():
            left["fds"] = self.after.fds - self.before.fds
        return {name: value for name, value in left.items() if value}

    def _new_temp(self) -> list[str]:
        return sorted(self.after.temp_entries - self.before.temp_entries)

    def shared(self) -> dict[str, int]:
        """Processes and temporary directories new since the start that are shared by design (the one browser
        of the process: `SHARED_BY_DESIGN`, `SHARED_TEMP_PREFIXES`)."""
        extra = self.after.processes - self.before.processes
        shared = {n: c for n, c in extra.items() if n in SHARED_BY_DESIGN}
        temp = [name for name in self._new_temp() if name.startswith(SHARED_TEMP_PREFIXES)]
        return shared | ({"temp dirs": len(temp)} if temp else {})

    def shared_fds(self) -> int:
        """Descriptors the shared browser's connection holds (its pipes): a few per shared process."""
        extra = self.after.processes - self.before.processes
        return 4 * sum(c for n, c in extra.items() if n in SHARED_BY_DESIGN)


@contextmanager
def private_temp_dir() -> Iterator[Path]:
    """A fresh directory that `tempfile`, `TMPDIR` and sandbox workspaces use while the block runs."""
    with tempfile.TemporaryDirectory(prefix="prm-load-") as folder:
        saved = {key: os.environ.get(key) for key in ("TMPDIR", "PRM_SANDBOX_DIR")}
        saved_tempdir = tempfile.tempdir
        os.environ["TMPDIR"] = os.environ["PRM_SANDBOX_DIR"] = folder
        tempfile.tempdir = folder
        try:
            yield Path(folder)
        finally:
            tempfile.tempdir = saved_tempdir
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def run_load(
    families: Sequence[str] | None = None,
    *,
    episodes: int = 100,
    num_envs: int = 4,
    settle_s: float = 120.0,
    on_family: Callable[[str], None] | None = None,
) -> LoadResult:
    """Plays the oracle episodes and counts what is left (see the module docstring)."""
    from prm.agents import OracleAgent
    from prm.family import load_ref
    from prm.registration import families as declared
    from prm.rollout import rollout

    chosen = {
        name: family
        for name, family in declared().items()
        if family.hostile is not None and (families is None or name in families)
    }
    per_family = max(1, episodes // len(chosen))
    with private_temp_dir() as temp_dir:
        result = LoadResult(before=footprint(temp_dir), after=footprint(temp_dir))
        for name, family in chosen.items():
            target = load_ref(family.hostile)
            started = time.monotonic()
            trajectories = rollout(
                family.env_id,
                OracleAgent(),
                scenarios=[target.scenario],
                episodes=per_family,
                num_envs=num_envs,
                show_progress=False,
            )
            result.wall_s[name] = time.monotonic() - started
            result.episodes[name] = len(trajectories)
            result.graded[name] = sum(not t.outcome.infra_error for t in trajectories if t.outcome)
            if on_family is not None:
                on_family(name)
        deadline = time.monotonic() + settle_s
        while True:
            result.after = footprint(temp_dir)
            if not result.left() or time.monotonic() > deadline:
                return result
            time.sleep(1.0)
