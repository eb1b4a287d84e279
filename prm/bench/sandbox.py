"""Sandbox latency benchmark: container start, exec round trip against `docker exec`, fork, snapshot/restore.

Every figure is measured in the same run as its baseline, so the ratios hold on any machine:
- exec round trip of `true` through `DockerSandbox.exec` vs the `docker exec <ctr> true` CLI (target <= 0.2x)
  and vs the docker SDK's `exec_run` (for information);
- fork, for each workspace size (10 MB and 100 MB by default; 1 GB on request) and both shapes (one large
  file; many 10 KB files), vs a byte copy of that workspace on the host: into a new container (target < 0.5 s),
  n back to back (each right after the previous one, with n spares started beforehand by
  `prestart_fork(spares=n)`) and into a spare that had time to start (target < 0.1 s: a copy-on-write
  snapshot, see `prm.sandboxes.cow`); the rows show how fork time grows with the workspace;
- container start (until the helper answers), snapshot and restore of each workspace;
- neighbour slowdown: a trivial step (a short `python3 -c` computation) in one sandbox while the sandbox next
  to it runs a backgrounded CPU spin (more busy loops than it has CPUs) or fork bomb, against the same step
  with that neighbour idle, in alternating rounds (target <= 1.5x: each container's CPU, pids and memory
  limits keep the neighbour's share).

Example:
    >>> from prm.bench.sandbox import run_sandbox_bench
    >>> rows = run_sandbox_bench(exec_n=50)  # doctest: +SKIP
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import docker

from prm.sandboxes.base import SandboxLimits
from prm.sandboxes.docker import DockerSandbox, close_spares
from prm.sandboxes.local import LocalSandbox
from prm.sandboxes.workspace import new_root


@dataclass(frozen=True)
class BenchRow:
    """One measurement: median seconds, and optionally a baseline measured in the same run and a target."""

    name: str
    seconds: float
    baseline_name: str = ""
    baseline_seconds: float | None = None
    target: str = ""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        return self.seconds / self.baseline_seconds if self.baseline_seconds else None


def _median(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _timed_then(fn: Callable[[], object], cleanup: Callable[[object], object], n: int) -> list[float]:
    """Times of `n` calls of `fn`, each followed (untimed) by `cleanup(result)`."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
        cleanup(result)
    return times


SHAPES = ("one file", "10 KB files")
SMALL_FILE_BYTES = 10 * 1024


def _make_workspace(path: Path, megabytes: int, shape: str) -> None:
    """`megabytes` MB of random bytes: one file, or 10 KB files spread over 100 folders."""
    if shape == "one file":
        with (path / "blob.bin").open("wb") as blob:
            for _ in range(megabytes):
                blob.write(os.urandom(1 << 20))
        return
    for i in range(megabytes * (1 << 20) // SMALL_FILE_BYTES):
        folder = path / f"d{i % 100}"
        folder.mkdir(exist_ok=True)
        (folder / f"f{i}.bin").write_bytes(os.urandom(SMALL_FILE_BYTES))


def _fork_rows(scratch: Path, megabytes: int, shape: str, n: int) -> list[BenchRow]:
    """Fork, snapshot and restore of a workspace of `megabytes` MB in `shape`, against a byte copy of it."""
    source = Path(tempfile.mkdtemp(dir=scratch))
    _make_workspace(source, megabytes, shape)
    os.sync()

    def host_copy() -> Path:  # every byte (sendfile), as a fork without copy-on-write or reflinks costs
        dest = Path(tempfile.mkdtemp(dir=scratch)) / "copy"
        shutil.copytree(source, dest, symlinks=True)
        return dest.parent

    copy_s = statistics.median(_timed_then(host_copy, shutil.rmtree, n))
    os.sync()  # the copies' write-back would otherwise fall on the forks timed next
    limits = SandboxLimits(disk_mb=max(SandboxLimits().disk_mb, 2 * megabytes + 256))
    with DockerSandbox(workspace_from=source, limits=limits) as sb:

        def close_and_prestart(forked: DockerSandbox) -> None:
            forked.close()
            sb.prestart_fork(wait=True)

        cold_s = statistics.median(_timed_then(lambda: sb.fork(use_spare=False), DockerSandbox.close, n))
        forks: list[DockerSandbox] = []
        sb.prestart_fork(wait=True, spares=n)
        back_to_back = _timed_then(sb.fork, forks.append, n)  # no wait in between: each takes a spare
        for forked in forks:
            forked.close()
        sb.prestart_fork(wait=True, spares=1)
        warm_s = statistics.median(_timed_then(sb.fork, close_and_prestart, n))
        close_spares()
        snap = sb.snapshot()
        snapshot_s = _median(sb.snapshot, n)
        restore_s = _median(lambda: sb.restore(snap), n)
    shutil.rmtree(source)
    label = f"{megabytes} MB ({shape})"
    baseline = "byte copy of the workspace"
    back_s = statistics.median(back_to_back)
    return [
        BenchRow(f"fork, {label}, new container", cold_s, baseline, copy_s, "< 0.5 s", cold_s < 0.5),
        BenchRow(
            f"fork, {label}, {n} back to back", back_s, baseline, copy_s, FORK_TARGET, back_s < FORK_TARGET_S
        ),
        BenchRow(
            f"fork, {label}, spare ready", warm_s, baseline, copy_s, FORK_TARGET, warm_s < FORK_TARGET_S
        ),
        BenchRow(f"snapshot, {label}", snapshot_s),
        BenchRow(f"restore, {label}", restore_s),
    ]


FORK_TARGET_S = 0.1
FORK_TARGET = "< 0.1 s"
"""A fork into a started container, whatever the workspace's size (copy-on-write; see `prm.sandboxes.cow`)."""
NEIGHBOUR_STEP = "python3 -c 'sum(range(300_000))'"
HOSTILE_NEIGHBOURS = {
    "CPU spin": "for i in 1 2 3 4; do (while :; do :; done) & done > /dev/null 2>&1",
    "fork bomb": "(f() { f | f & }; f) > /dev/null 2>&1 &",
}
NEIGHBOUR_ROUNDS = 3
NEIGHBOUR_TARGET = 1.5


def _ignore(_: object) -> None:
    pass


def _neighbour_rows(n: int) -> list[BenchRow]:
    """The neighbour's step time next to each hostile sandbox, against the same step with it idle; rounds
    alternate idle and hostile so that load from outside the benchmark falls on both."""
    idle: list[float] = []
    busy: dict[str, list[float]] = {name: [] for name in HOSTILE_NEIGHBOURS}
    with DockerSandbox() as hostile, DockerSandbox() as neighbour:

        def step() -> None:
            neighbour.exec(NEIGHBOUR_STEP)

        step()
        for _ in range(NEIGHBOUR_ROUNDS):
            for name, attack in HOSTILE_NEIGHBOURS.items():
                idle += _timed_then(step, _ignore, n)
                hostile.exec(attack)
                busy[name] += _timed_then(step, _ignore, n)
                hostile.exec("kill -9 -1")  # the sandbox user's processes; the helper stays
    idle_s = statistics.median(idle)
    rows = [BenchRow("neighbour step, next sandbox idle", idle_s)]
    for name, times in busy.items():
        busy_s = statistics.median(times)
        met = busy_s <= NEIGHBOUR_TARGET * idle_s
        rows.append(
            BenchRow(
                f"neighbour step, {name} next door",
                busy_s,
                "same step, next sandbox idle",
                idle_s,
                f"<= {NEIGHBOUR_TARGET}x",
                met,
            )
        )
    return rows


def run_sandbox_bench(
    exec_n: int = 300,
    cli_n: int = 30,
    fork_n: int = 5,
    workspace_mb: Sequence[int] = (10, 100),
    neighbour_n: int = 10,
) -> list[BenchRow]:
    """Measure and return the rows (needs a Docker engine and the base image, built when missing)."""
    rows: list[BenchRow] = []
    scratch = new_root("prm-bench-")
    try:
        started: list[DockerSandbox] = []
        start_s = _median(lambda: started.append(DockerSandbox()), fork_n)
        close_s = _median(lambda: started.pop().close(), fork_n)
        rows.append(BenchRow("container start (helper ready)", start_s))
        rows.append(BenchRow("container close (removed)", close_s))

        with DockerSandbox() as sb:
            ctr = sb.container_id
            sb.exec("true")
            exec_s = _median(lambda: sb.exec("true"), exec_n)
            cli_s = _median(lambda: subprocess.run(["docker", "exec", ctr, "true"], check=True), cli_n)
            client = docker.from_env()
            container = client.containers.get(ctr)
            sdk_s = _median(lambda: container.exec_run("true"), cli_n)
            client.close()
        rows.append(
            BenchRow(
                "exec `true` round trip", exec_s, "`docker exec` CLI", cli_s, "<= 0.2x", exec_s <= 0.2 * cli_s
            )
        )
        rows.append(BenchRow("exec `true` round trip", exec_s, "docker SDK exec_run", sdk_s))
        with LocalSandbox() as local:
            rows.append(BenchRow("LocalSandbox exec `true`", _median(lambda: local.exec("true"), exec_n)))

        for megabytes in workspace_mb:
            for shape in SHAPES:
                rows += _fork_rows(scratch, megabytes, shape, fork_n)
        if neighbour_n:
            rows += _neighbour_rows(neighbour_n)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return rows
