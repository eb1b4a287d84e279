"""Faults for `prm bench hostile`: the infrastructure fails under a rollout, and nothing may look like the agent's
doing.

A family declares its faults in its target (`prm.bench.hostile.Target.faults`, each a `Fault`): a function that
breaks the env's infrastructure from the host (`docker kill` of its container, Chromium or the X server killed,
the language server killed). `run_fault` plays a small oracle rollout (`episodes` episodes on 2 envs, files
written) and injects the fault into episode 1 after its first step. The verdict is `contained` when

- episode 1 ends with `infra_error` and never with a zero reward (`outcome.reward` is None, or the step was
  flagged and not scored);
- every episode that started after the fault is graded with a reward;
- no episode with an infrastructure failure carries a zero reward;
- every trajectory file loads (`prm.load_trajectory`; a cut-off file is an error naming its line);

and `leaked` otherwise. `error` when the rollout itself raised.

>>> from prm.bench.faults import docker_kill
>>> docker_kill  # doctest: +ELLIPSIS
<function docker_kill at ...>
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prm.agents import OracleAgent
from prm.bench.hostile import Fault, Outcome, Verdict, contained, leaked, one_line
from prm.trajectory import load_trajectory

VICTIM = 1
"""The episode that gets the fault (episode 0 runs beside it on the other env)."""


class FaultyOracle(OracleAgent):
    """The oracle, except that in episode `VICTIM` it injects `fault` into its env after the first step (and
    plays the fault's `probe` action next)."""

    def __init__(self, fault: Fault):
        super().__init__()
        self.fault = fault
        self.armed: Any = None

    def reset(self, env: Any, observation: Any, info: dict[str, Any]) -> None:
        super().reset(env, observation, info)
        # a rollout with seed 0 resets episode i with seed i (whichever env slot runs it, in whatever order)
        self.armed = env.unwrapped if env.unwrapped.np_random_seed == VICTIM else None

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        if self.armed is not None and self._next == 1:
            self.fault.inject(self.armed)
            self.armed = None
            if self.fault.probe is not None:
                return self.fault.probe
        return super().act(observation, info)


def run_fault(env_id: str, scenario: str, fault: Fault, *, episodes: int = 3) -> Verdict:
    """Plays `episodes` oracle episodes of `scenario` on 2 envs with `fault` in episode `VICTIM`; see above."""
    from prm.rollout import rollout

    with tempfile.TemporaryDirectory(prefix="prm-faults-") as out:
        try:
            trajectories = rollout(
                env_id,
                FaultyOracle(fault),
                scenarios=[scenario],
                episodes=episodes,
                num_envs=2,
                rewards=fault.rewards,
                env_kwargs=dict(fault.env_kwargs),
                out=out,
                show_progress=False,
            )
        except Exception as err:
            return Verdict(
                Outcome.ERROR, one_line(f"the rollout raised {type(err).__name__}: {str(err)[:200]}")
            )
        try:
            for path in sorted(Path(out).glob("*.jsonl")):
                load_trajectory(path)
        except Exception as err:
            return leaked(f"a trajectory file does not load: {err}")
    victim = trajectories[VICTIM]
    rewards = [t.outcome.outcome.get("reward") if t.outcome else None for t in trajectories]
    if victim.outcome is None or not victim.outcome.infra_error:
        return leaked(f"the faulted episode is not flagged infra_error (reward {rewards[VICTIM]})")
    zeros = [
        i for i, t in enumerate(trajectories) if t.outcome and t.outcome.infra_error and rewards[i] == 0.0
    ]
    if zeros:
        return leaked(f"episodes {zeros} had an infrastructure failure and a zero reward")
    later = [i for i in range(VICTIM + 1, episodes) if rewards[i] is None]
    if later:
        return leaked(f"episodes {later}, started after the fault, were not graded")
    flagged = [i for i, t in enumerate(trajectories) if t.outcome and t.outcome.infra_error]
    return contained(f"episodes {flagged} flagged infra_error; rewards {rewards}; all {episodes} files load")


def docker_kill(env: Any) -> None:
    """Kills the env's sandbox container from the host (`docker kill`), as an engine restart or the OOM killer
    of the host would."""
    import docker

    client = docker.from_env()
    try:
        client.api.kill(env.sandbox.container_id)
    finally:
        client.close()


def kill_in_container(env: Any, command_name: str) -> None:
    """Kills (SIGKILL, as root) every process of the env's sandbox container whose name is `command_name`."""
    import docker

    client = docker.from_env()
    try:
        script = f'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = {command_name} ] && kill -9 ${{p#/proc/}}; done; true'
        client.api.exec_start(
            client.api.exec_create(env.sandbox.container_id, ["sh", "-c", script], user="root")
        )
    finally:
        client.close()


def kill_host_children(name_part: str) -> Callable[[Any], None]:
    """A fault that kills (SIGKILL) this process's child processes whose command line holds `name_part`
    (a browser, a language server)."""

    def inject(env: Any) -> None:
        import psutil

        for process in psutil.Process().children(recursive=True):
            try:
                if name_part in " ".join(process.cmdline()):
                    process.kill()
            except psutil.Error:
                continue

    return inject
