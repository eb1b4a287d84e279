"""The Ray back end of `prm.rollout` (`backend="ray"`): each env lives in its own Ray actor, the policy stays on
the driver and is called there in batches.

An `EnvActor` holds one env (and so its sandbox) and an `EpisodeRunner` without a file; the driver's
`RemoteRunner` mirrors it: it sends each action, keeps the episode's record (and writes the JSONL file on the
driver's disk) from the `StepRecord`s that come back. Agents get a `RemoteEnv` in `reset(env, ...)`, whose
`env.unwrapped.NAME` reads the actor's env hooks (`oracle_actions()`, `tools`), so an agent cannot tell where
its env runs. A worker that dies mid-episode (killed, out of memory, lost node) ends that episode as an
infrastructure failure (outcome reward None) and the other episodes go on; its actor is replaced for the next
episode. Such a worker cannot close its sandboxes: a Ray task on its node removes the containers and
directories it left behind (those labelled with its pid, as `prm clean` would), and the rollout waits for it.

`RayEnvPool` connects to Ray: an existing cluster with `address=` (checked first: an address that does not
answer is an error naming it, and nothing is started), the session already initialised in this process, or
else a local Ray started on demand with small resources (2 CPUs, no dashboard, a 100 MB object store) and shut
down when the rollout ends. Env actors reserve no CPU (`num_cpus=0`): they spend their time waiting on
sandboxes, and Ray would otherwise refuse more actors than cores.

>>> from prm.agents import OracleAgent
>>> from prm.rollout import rollout
>>> trajectories = rollout("prm/search-qa-v0", OracleAgent(), episodes=4, num_envs=2, backend="ray")  # doctest: +SKIP
>>> rollout("prm/search-qa-v0", OracleAgent(), backend="ray", address="10.0.0.9:6379")  # doctest: +SKIP
Traceback (most recent call last):
RayUnavailable: no Ray cluster answers at 10.0.0.9:6379 (...)
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Any

import gymnasium as gym

from prm.errors import PrmError, SandboxError
from prm.models import PolicyCall, StepRecord, TrajectoryHeader
from prm.rollout import EpisodeRecord, EpisodeRunner, RecordedSlot

LOCAL_RAY = {
    "num_cpus": 2,
    "include_dashboard": False,
    "object_store_memory": 100 * 1024**2,
    "log_to_driver": False,
}


EXIT_TIMEOUT_S = 60.0
"""How long the actors may take to close their envs and exit at the end of a rollout before they are killed."""


class RayUnavailable(PrmError):
    """Ray is not installed or the cluster at the given address does not answer."""


class EnvActorError(PrmError):
    """An env actor could not make or reset its env (e.g. bad arguments, a sandbox that cannot start)."""


def _import_ray():
    try:
        import ray
    except ImportError:
        raise RayUnavailable("backend='ray' needs Ray: pip install 'prm-gym[ray]'") from None
    return ray


def start_local_ray():
    """Starts a local Ray with `LOCAL_RAY`'s small resources and returns the `ray` module (for sessions that
    serve several rollouts: tests, benchmarks)."""
    ray = _import_ray()
    ray.init(**LOCAL_RAY, logging_level="ERROR")
    return ray


def check_address(address: str, timeout_s: float = 5.0) -> None:
    """Raises `RayUnavailable` naming `address` ("HOST:PORT" or "ray://HOST:PORT") unless something listens
    there. "auto" (find the cluster of this machine) is left to Ray."""
    if address == "auto":
        return
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        raise RayUnavailable(f"Ray address {address!r} is not HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as err:
        raise RayUnavailable(f"no Ray cluster answers at {address} ({err})") from None


def _remove_sandboxes_of(pid: int) -> list[str]:
    """The Ray task that removes what a killed env actor (process `pid`, on the node this runs on) left
    behind: its sandboxes' containers and directories (see `prm clean`)."""
    from prm.sandboxes.labels import remove_sandboxes_of  # the rollout layer reaches the sandboxes here only

    return remove_sandboxes_of(pid)


class EnvActorCore:
    """What runs inside an env's actor (the class `ray.remote` wraps): makes the env of each episode, resets
    and steps it, and answers reads of its hooks."""

    def __init__(self) -> None:
        self.runner: EpisodeRunner | None = None

    def location(self) -> tuple[str, int]:
        """The Ray node id and process id of this actor."""
        import ray

        return ray.get_runtime_context().get_node_id(), os.getpid()

    def start(
        self,
        env_id: str,
        make_kwargs: dict[str, Any],
        env_kwargs: dict[str, Any],
        reward_config: list[str],
        seed: int | None,
        scenario_id: str | None,
    ) -> tuple[TrajectoryHeader, Any, dict[str, Any]]:
        self.close()
        env = gym.make(env_id, **make_kwargs)
        self.runner = EpisodeRunner(env, env_kwargs=env_kwargs, reward_config=reward_config)
        try:
            self.runner.start(seed=seed, scenario_id=scenario_id)
            if self.runner.done:  # a reset that failed (the local engine records it; here it stays an error)
                raise SandboxError(self.runner.trajectory.outcome.outcome["infra_error"])
        except BaseException:
            self.close()
            raise
        return self.runner.trajectory.header, self.runner.observation, self.runner.info

    def step(self, action: str) -> tuple[StepRecord, Any, dict[str, Any], Any]:
        record = self.runner.step(action)
        return record, self.runner.observation, self.runner.info, self.runner.trajectory.outcome

    def hook(self, name: str) -> tuple[bool, Any]:
        """(True, None) when the env's `name` is a method (call it with `call`), else (False, its value)."""
        value = getattr(self.runner.env.unwrapped, name)
        return (True, None) if callable(value) else (False, value)

    def call(self, name: str, args: tuple, kwargs: dict[str, Any]) -> Any:
        return getattr(self.runner.env.unwrapped, name)(*args, **kwargs)

    def close(self) -> None:
        if self.runner is not None:
            self.runner.close()
            self.runner = None

    def exit(self) -> None:
        """Closes the env and ends the actor's process the orderly way, so that its exit handlers run (e.g.
        sandboxes started ahead of time are removed)."""
        import ray

        self.close()
        ray.actor.exit_actor()


class RemoteEnv:
    """The agent's view of an env in an actor: `env.unwrapped.oracle_actions()` or `env.unwrapped.tools` are
    read from the actor's env. It is its own `unwrapped`."""

    def __init__(self, actor: Any, ray: Any):
        self._actor, self._ray = actor, ray

    @property
    def unwrapped(self) -> RemoteEnv:
        return self

    @property
    def worker_pid(self) -> int:
        """The process id of the actor that holds the env."""
        return self._ray.get(self._actor.location.remote())[1]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        is_method, value = self._ray.get(self._actor.hook.remote(name))
        if not is_method:
            return value
        return lambda *args, **kwargs: self._ray.get(self._actor.call.remote(name, args, kwargs))


class RemoteRunner(RecordedSlot):
    """The driver's side of one env actor, with `EpisodeRunner`'s interface (`start`, `step`, `abort`,
    `done`, `trajectory`, `observation`, `info`, `close`); the record and its file are kept here."""

    def __init__(
        self,
        pool: RayEnvPool,
        env_id: str,
        make_kwargs: dict[str, Any],
        *,
        env_kwargs: dict[str, Any],
        reward_config: list[str],
    ):
        super().__init__()
        self.pool, self.env_id, self.make_kwargs = pool, env_id, make_kwargs
        self.actor = pool.acquire()
        self.env = RemoteEnv(self.actor, pool.ray)
        self.env_kwargs, self.reward_config = dict(env_kwargs), list(reward_config)
        self.dead = False

    def start(
        self, *, seed: int | None, scenario_id: str | None = None, out: str | Path | None = None
    ) -> Any:
        """Makes and resets the actor's env; `EnvActorError` (naming the env and the cause) when it cannot."""
        errors = self.pool.ray.exceptions
        try:
            header, self.observation, self.info = self.pool.ray.get(
                self.actor.start.remote(
                    self.env_id, self.make_kwargs, self.env_kwargs, self.reward_config, seed, scenario_id
                )
            )
        except (errors.RayTaskError, errors.RayActorError) as err:
            self.dead = isinstance(err, errors.RayActorError)
            cause = getattr(err, "cause", None) or err
            first_line = (str(cause).strip().splitlines() or [""])[0]
            raise EnvActorError(
                f"the Ray actor could not start {self.env_id} (seed {seed}): {type(cause).__name__}: {first_line}"
            ) from cause
        self.record = EpisodeRecord(header, out)
        return self.observation

    def step(self, action: str, policy: PolicyCall | None = None) -> StepRecord | None:
        """Applies one action in the actor; None when the actor died (the episode is then an infrastructure
        failure)."""
        try:
            record, self.observation, self.info, outcome = self.pool.ray.get(self.actor.step.remote(action))
        except self.pool.ray.exceptions.RayActorError as err:
            self.dead = True
            self.record.abort(f"the Ray actor of this env died: {str(err).splitlines()[0]}")
            return None
        record.policy = policy
        self.record.add(record)
        if outcome is not None:
            self.record.finish(outcome)
        return record

    def close(self) -> None:
        """Closes the record and the actor's env; the actor goes back to the pool (a dead one is dropped)."""
        self.close_record()
        self.pool.release(self.actor, dead=self.dead)


class RayEnvPool:
    """Env actors for one rollout: `acquire` one per live env (reused across episodes); `shutdown` lets them
    all exit (killing those that hang) and stops the local Ray this pool started, if any."""

    def __init__(self, address: str | None = None):
        self.ray = _import_ray()
        self.started_ray = False
        if address is not None:
            check_address(address)
        if not self.ray.is_initialized():
            if address is None:
                start_local_ray()
                self.started_ray = True
            else:
                try:
                    self.ray.init(address=address, logging_level="ERROR")
                except (ConnectionError, RuntimeError, TimeoutError) as err:
                    reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
                    raise RayUnavailable(f"could not join the Ray cluster at {address}: {reason}") from err
        self._actor_class = self.ray.remote(num_cpus=0, max_restarts=0)(EnvActorCore)
        self._reap = self.ray.remote(num_cpus=0)(_remove_sandboxes_of)
        self._idle: list[Any] = []
        self._all: list[Any] = []
        self._locations: dict[Any, tuple[str, int]] = {}
        self._reaps: list[Any] = []
        self._lock = threading.Lock()

    def acquire(self) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        actor = self._actor_class.remote()
        location = self.ray.get(actor.location.remote())
        with self._lock:
            self._all.append(actor)
            self._locations[actor] = location
        return actor

    def release(self, actor: Any, *, dead: bool) -> None:
        """Takes back an actor after an episode; for a dead one, starts removing the sandboxes its process
        left behind, on its node."""
        if not dead:
            try:
                self.ray.get(actor.close.remote())
            except self.ray.exceptions.RayActorError:
                dead = True
        with self._lock:
            if not dead:
                self._idle.append(actor)
                return
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            node, pid = self._locations[actor]
            on_node = NodeAffinitySchedulingStrategy(node, soft=False)
            self._reaps.append(self._reap.options(scheduling_strategy=on_node).remote(pid))

    def shutdown(self) -> None:
        with self._lock:
            actors, self._all, self._idle = self._all, [], []
            reaps, self._reaps = self._reaps, []
        exits = [actor.exit.remote() for actor in actors]
        self.ray.wait(exits + reaps, num_returns=len(exits) + len(reaps), timeout=EXIT_TIMEOUT_S)
        for actor in actors:  # those that did not exit in time
            self.ray.kill(actor, no_restart=True)
        if self.started_ray:
            self.ray.shutdown()
