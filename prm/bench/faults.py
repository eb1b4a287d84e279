"""Faults for `prm bench hostile`: the infrastructure fails under a rollout, and nothing may look like the agent's
doing.

A family declares its faults in its target (`prm.bench.hostile.Target.faults`, each a `Fault`); the generic ones
(`GENERIC_FAULTS`) apply to every family. A fault breaks, from the host, what an env runs on (`inject(env)`:
`docker kill` of its container, Chromium or the X server killed, the language server killed, the Docker engine
restarted) and/or takes down a service the rollout depends on (`outage`: a search service, the model endpoint).
`run_fault` plays a small rollout (`episodes` episodes on 2 envs, files written) with the oracle, or with an
`OpenAIChatAgent` whose loopback endpoint replies the oracle's actions (`model_endpoint`), and injects the
fault into episode 1 after its first step. An outage takes the service down for every episode at once (the
episode beside the victim is hit too when it calls the service meanwhile); it is back when a later episode
starts, before its env is made and reset (a search service is needed at `reset`), or never (`stays_down`).
The verdict is `contained` when

- episode 1 ends with `infra_error` and never with a zero reward (`outcome.reward` is None, or the step was
  flagged and not scored);
- every episode that started after the fault is graded with a reward (with `stays_down`: is `infra_error`);
- no episode with an infrastructure failure carries a zero reward;
- every trajectory file loads (`prm.load_trajectory`; a cut-off file is an error naming its line);

and `leaked` otherwise. `error` when the rollout itself raised.

>>> from prm.bench.faults import docker_kill
>>> docker_kill  # doctest: +ELLIPSIS
<function docker_kill at ...>
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prm.agent_protocol import Agent, PolicyUnavailable
from prm.agents import OpenAIChatAgent, OracleAgent
from prm.bench.chat_server import ChatServer
from prm.bench.hostile import Fault, Outcome, Verdict, contained, leaked, one_line
from prm.bench.outage import RestartableServer
from prm.trajectory import load_trajectory

VICTIM = 1
"""The episode that gets the fault (episode 0 runs beside it on the other env)."""
ENGINE_START_S = 120.0
"""How long a restarted Docker engine may take to answer (a hang guard on a loaded machine)."""
ENGINE_LOG = "/tmp/prm-dockerd.log"
"""Where a restarted engine logs (where `scripts/setup.sh` has it log)."""


@dataclass
class Outage:
    """A service started for a fault's rollout: `server` goes down at the fault; `env_kwargs` point the envs at
    it; `agent(trigger)`, when set, is the policy that uses it (else the oracle)."""

    server: RestartableServer
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    agent: Callable[[Trigger], Agent] | None = None


class Trigger:
    """When the fault strikes: `start(episode)`, before each episode's env is made, brings an outage back for
    the episodes after the victim (unless it stays down); `arm(env)` at each agent's reset says whether this
    episode is the victim; `fire(env)` injects the fault."""

    def __init__(self, fault: Fault, outage: Outage | None):
        self.fault, self.outage = fault, outage

    def start(self, episode: int) -> None:
        if self.outage is not None and episode > VICTIM and not self.fault.stays_down:
            self.outage.server.up()

    def arm(self, env: Any) -> Any:
        """The unwrapped env if its episode is the victim, else None."""
        # a rollout with seed 0 resets episode i with seed i (whichever env slot runs it, in whatever order)
        return env.unwrapped if env.unwrapped.np_random_seed == VICTIM else None

    def fire(self, env: Any) -> None:
        if self.fault.inject is not None:
            self.fault.inject(env)
        if self.outage is not None:
            self.outage.server.down()


class FaultyOracle(OracleAgent):
    """The oracle, except that in episode `VICTIM` it fires the trigger after the first step (and plays the
    fault's `probe` action next)."""

    def __init__(self, trigger: Trigger):
        super().__init__()
        self.trigger = trigger
        self.armed: Any = None

    def reset(self, env: Any, observation: Any, info: dict[str, Any]) -> None:
        super().reset(env, observation, info)
        self.armed = self.trigger.arm(env)

    def act(self, observation: Any, info: dict[str, Any]) -> str:
        if self.armed is not None and self._next == 1:
            self.trigger.fire(self.armed)
            self.armed = None
            if self.trigger.fault.probe is not None:
                return self.trigger.fault.probe
        return super().act(observation, info)


class EndpointOracle(OpenAIChatAgent):
    """An `OpenAIChatAgent` whose endpoint (`oracle_endpoint`) replies the oracle's actions; in episode
    `VICTIM` it fires the trigger before its second request."""

    def __init__(self, server: ChatServer, scripts: dict[str, list[str]], trigger: Trigger):
        # one retry (the client's default is 3) keeps an outage short; no truncation, so turns count steps
        super().__init__("oracle", base_url=server.base_url, max_retries=1, context_tokens=10**7)
        self.scripts, self.trigger = scripts, trigger
        self.armed: Any = None
        self.calls = 0

    def reset(self, env: Any, observation: Any, info: dict[str, Any]) -> None:
        super().reset(env, observation, info)
        self.scripts[str(observation)] = list(env.unwrapped.oracle_actions())
        self.armed, self.calls = self.trigger.arm(env), 0

    def act_batch(
        self, sessions: Sequence[EndpointOracle], observations: Sequence[Any], infos: Sequence[dict[str, Any]]
    ) -> list[str | PolicyUnavailable]:
        for session in sessions:
            if session.armed is not None and session.calls == 1:
                self.trigger.fire(session.armed)
                session.armed = None
            session.calls += 1
        return super().act_batch(sessions, observations, infos)


def oracle_endpoint(scripts: dict[str, list[str]]) -> ChatServer:
    """A chat server that answers each chat with the oracle's next action for its task (the first user
    message; `scripts` maps it to the oracle's actions), by the number of assistant turns so far."""

    def reply(messages: list[dict], tools: list[dict]) -> str:
        script = scripts[messages[1]["content"]]
        turn = sum(message["role"] == "assistant" for message in messages)
        return script[min(turn, len(script) - 1)]

    return ChatServer(reply)


@contextmanager
def model_endpoint() -> Iterator[Outage]:
    """An outage of the policy's model endpoint (a loopback OpenAI-compatible server): connections refused."""
    scripts: dict[str, list[str]] = {}
    with oracle_endpoint(scripts) as server:
        yield Outage(server, agent=lambda trigger: EndpointOracle(server, scripts, trigger))


GENERIC_FAULTS: tuple[Fault, ...] = (
    Fault("model endpoint down, then back", outage=model_endpoint),
    Fault("model endpoint down for good", outage=model_endpoint, stays_down=True),
)


def run_fault(env_id: str, scenario: str, fault: Fault, *, episodes: int = 3) -> Verdict:
    """Plays `episodes` episodes of `scenario` on 2 envs with `fault` in episode `VICTIM`; see above."""
    from prm.rollout import RolloutEngine

    with (
        tempfile.TemporaryDirectory(prefix="prm-faults-") as out,
        fault.outage() if fault.outage else nullcontext() as outage,
    ):
        trigger = Trigger(fault, outage)
        agent = outage.agent(trigger) if outage and outage.agent else FaultyOracle(trigger)
        try:
            trajectories = RolloutEngine(
                env_id,
                agent,
                scenarios=[scenario],
                episodes=episodes,
                num_envs=2,
                rewards=fault.rewards,
                env_kwargs={**fault.env_kwargs, **(outage.env_kwargs if outage else {})},
                out=out,
                on_start=trigger.start,
            ).run()
        except Exception as err:
            return Verdict(
                Outcome.ERROR, one_line(f"the rollout raised {type(err).__name__}: {str(err)[:200]}")
            )
        try:
            for path in sorted(Path(out).glob("*.jsonl")):
                load_trajectory(path)
        except Exception as err:
            return leaked(f"a trajectory file does not load: {err}")
    return judge(trajectories, stays_down=fault.stays_down)


def judge(trajectories: list[Any], *, stays_down: bool = False) -> Verdict:
    """The verdict on a fault's rollout (see the module docstring)."""
    episodes = len(trajectories)
    victim = trajectories[VICTIM]
    rewards = [t.outcome.outcome.get("reward") if t.outcome else None for t in trajectories]
    flagged = [i for i, t in enumerate(trajectories) if t.outcome and t.outcome.infra_error]
    if victim.outcome is None or not victim.outcome.infra_error:
        return leaked(f"the faulted episode is not flagged infra_error (reward {rewards[VICTIM]})")
    zeros = [i for i in flagged if rewards[i] == 0.0]
    if zeros:
        return leaked(f"episodes {zeros} had an infrastructure failure and a zero reward")
    if stays_down:
        later = [i for i in range(VICTIM + 1, episodes) if i not in flagged]
        if later:
            return leaked(f"episodes {later}, started while it was down, are not flagged infra_error")
    else:
        later = [i for i in range(VICTIM + 1, episodes) if rewards[i] is None]
        if later:
            return leaked(f"episodes {later}, started after the fault, were not graded")
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


def engine_restart(probe: str | None = None) -> Fault:
    """The fault "Docker engine restarted" (`restart_engine`) for a family whose envs run in Docker."""
    return Fault("Docker engine restarted", restart_engine, probe=probe, disturbs_others=True)


def engine_process() -> Any:
    """The `dockerd` process that the docker client talks to: the one serving `$DOCKER_HOST` (its socket path
    on the command line) when that is set, else the one with no `-H`/`--host` (the default socket)."""
    import psutil

    host = os.environ.get("DOCKER_HOST", "").removeprefix("unix://")
    engines = [p for p in psutil.process_iter(["name", "cmdline"]) if p.info["name"] == "dockerd"]
    serving = [
        p
        for p in engines
        if (
            any(host in arg for arg in p.info["cmdline"])
            if host
            else not any(arg.startswith(("-H", "--host")) for arg in p.info["cmdline"])
        )
    ]
    if len(serving) != 1:
        raise RuntimeError(
            f"{len(serving)} dockerd processes serve {host or 'the default socket'} (of {len(engines)} in all)"
        )
    return serving[0]


def restart_engine(env: Any) -> None:
    """Stops the Docker engine (SIGTERM to `dockerd`, as a restart or an upgrade does) and starts it again the
    way `scripts/setup.sh` does (the same command line, `dockerd --bridge=none --iptables=false` there, in a new
    session, log in `ENGINE_LOG`), waiting until it answers. It disturbs every user of the engine:
    opt-in only (`--engine-restart`)."""
    import docker
    import psutil

    engine = engine_process()
    command = engine.cmdline()
    engine.terminate()
    psutil.wait_procs([engine], timeout=ENGINE_START_S)
    with open(ENGINE_LOG, "ab") as log:
        subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + ENGINE_START_S
    while True:
        try:
            client = docker.from_env()
            try:
                client.ping()
                return
            finally:
                client.close()
        except docker.errors.DockerException:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"dockerd did not answer within {ENGINE_START_S:g} s; see {ENGINE_LOG}"
                ) from None
            time.sleep(0.5)
