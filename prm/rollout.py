"""Run episodes of an agent in envs, recording them as `Trajectory`s (and, if asked, JSONL files).

`run_episode(env, agent)` plays one episode in a given env. `rollout(env_id, agent, ...)` runs many at once:
`num_envs` envs are stepped concurrently, and the policy is called once per step for all live envs (one
`act_batch` call when the agent has it, e.g. one `generate` for N prompts). Each env slot is an
`EpisodeRunner` that owns its env and knows nothing of the agent, so that a slot can live in another process
(the shape a Ray actor takes). An episode whose policy call was lost to the model back end
(`PolicyUnavailable`: endpoint down, garbage answers) is ended as an infrastructure failure (outcome reward
None, never a zero) and the rollout goes on with the other episodes; so is an episode whose env failed to reset
(a `SandboxError` out of `reset`, e.g. a search service that is down).

>>> import gymnasium as gym, prm
>>> from prm.agents import OracleAgent
>>> env = gym.make("prm/search-qa-v0", scenario="5abf63f15542997ec76fd3ea")  # doctest: +SKIP
>>> trajectory = run_episode(env, OracleAgent(), seed=0, out="runs/episode.jsonl")  # doctest: +SKIP
>>> trajectory.outcome.total_reward  # doctest: +SKIP
1.0
>>> trajectories = rollout("prm/search-qa-v0", OracleAgent(), episodes=8, num_envs=4, out="runs")  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

import prm
from prm.agent_protocol import Agent, PolicyUnavailable
from prm.errors import SandboxError
from prm.models import OutcomeRecord, PolicyCall, StepRecord, Trajectory, TrajectoryHeader
from prm.scenario import scenario_provenance
from prm.summary import summarize, summary_table
from prm.trajectory import TrajectoryWriter, reserve_path, to_jsonable


def make_header(
    env: gym.Env, *, scenario_id: str, seed: int | None, env_kwargs: dict[str, Any], reward_config: list[str]
) -> TrajectoryHeader:
    env_id = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    return TrajectoryHeader(
        env_id=env_id,
        scenario_id=scenario_id,
        seed=seed,
        prm_version=prm.__version__,
        env_kwargs=to_jsonable(env_kwargs),
        reward_config=list(reward_config),
    )


def step_record(
    index: int, action: str, observation: Any, reward: float, terminated: bool, truncated: bool, info: dict
) -> StepRecord:
    """A `StepRecord` from what `env.step` returned; reward components move out of `info` to their own field."""
    info = to_jsonable(info)
    return StepRecord(
        index=index,
        action=action,
        observation=to_jsonable(observation),
        reward=float(reward),
        reward_components=info.pop("reward_components", {}),
        terminated=terminated,
        truncated=truncated,
        info=info,
    )


class EpisodeRecord:
    """An episode's record as it grows: the `Trajectory` and, with `out`, its JSONL file (flushed per line)."""

    def __init__(
        self, header: TrajectoryHeader, out: str | Path | None = None, steps: Sequence[StepRecord] = ()
    ):
        self.trajectory = Trajectory(header=header, steps=list(steps))
        self._writer = TrajectoryWriter(out, header) if out is not None else None
        for step in self.trajectory.steps:  # a branch starts with its parent's steps
            self._writer and self._writer.write_step(step)

    @property
    def done(self) -> bool:
        return self.trajectory.outcome is not None

    def add(self, record: StepRecord) -> None:
        self.trajectory.steps.append(record)
        if self._writer is not None:
            self._writer.write_step(record)

    def finish(self, outcome: OutcomeRecord) -> None:
        self.trajectory.outcome = outcome
        self.close()

    def abort(self, reason: str) -> None:
        """Ends the episode as an infrastructure failure (e.g. the policy's endpoint or the env's worker died)."""
        self.finish(
            OutcomeRecord(
                outcome={"reward": None, "infra_error": reason},
                total_reward=sum(self.trajectory.rewards),
                num_steps=len(self.trajectory.steps),
                infra_error=True,
            )
        )

    def close(self) -> None:
        """Writes the outcome line (if any) and closes the episode's file."""
        if self._writer is not None:
            if self.trajectory.outcome is not None:
                self._writer.write_outcome(self.trajectory.outcome)
            self._writer.close()
            self._writer = None


class RecordedSlot:
    """What every env slot has: the episode's record, the last observation and info, and how to end it."""

    def __init__(self) -> None:
        self.record: EpisodeRecord | None = None
        self.observation: Any = None
        self.info: dict[str, Any] = {}

    @property
    def trajectory(self) -> Trajectory | None:
        return self.record.trajectory if self.record is not None else None

    @property
    def done(self) -> bool:
        return self.record is not None and self.record.done

    def abort(self, reason: str) -> None:
        """Ends the episode as an infrastructure failure (e.g. the policy's endpoint is down)."""
        assert self.record is not None, "start() first"
        self.record.abort(reason)

    def close_record(self) -> None:
        """Writes the outcome line (if any) and closes the episode's file."""
        if self.record is not None:
            self.record.close()


class EpisodeRunner(RecordedSlot):
    """One env slot: resets its env, applies actions and records the episode (file and `Trajectory`).

    It never calls the agent: the caller passes each action (and the `PolicyCall` that produced it), so the
    runner can move into a worker process or actor unchanged (`prm.ray_backend.RemoteRunner` is its twin on
    the driver's side of a Ray actor).
    """

    def __init__(self, env: gym.Env, *, env_kwargs: dict[str, Any] | None = None, reward_config=()):
        super().__init__()
        self.env = env
        self.env_kwargs = dict(env_kwargs or {})
        self.reward_config = list(reward_config)

    def start(
        self,
        *,
        seed: int | None,
        scenario_id: str | None = None,
        out: str | Path | None = None,
        episode_id: str | None = None,
    ) -> Any:
        """Resets the env and opens the episode's record; returns the first observation. A `SandboxError` out
        of `reset` (the infrastructure failed before the first step) ends the episode at once as an
        infrastructure failure (`done`, no steps) and returns None."""
        kwargs = dict(self.env_kwargs)
        header = make_header(
            self.env,
            scenario_id=scenario_id or str(kwargs.pop("scenario", "") or ""),
            seed=seed,
            env_kwargs=kwargs,
            reward_config=self.reward_config,
        )
        try:
            self.observation, self.info = self.env.reset(seed=seed)
        except SandboxError as err:  # e.g. a search service down: the episode is lost, the rollout goes on
            self.record = EpisodeRecord(header, out)
            self.record.abort(f"reset failed: {err}")
            return None
        header.scenario_id = header.scenario_id or str(
            self.info.get("scenario_id", "")
        )  # the one the env drew
        header.scenario_path, header.scenario_sha256 = scenario_provenance(header.scenario_id)
        header.initial_observation = to_jsonable(self.observation)
        header.reset_info = to_jsonable(self.info)
        header.episode_id = episode_id
        self.record = EpisodeRecord(header, out)
        return self.observation

    def step(self, action: str, policy: PolicyCall | None = None) -> StepRecord:
        """Applies one action; when the episode ends, its outcome is recorded and the file closed."""
        assert self.record is not None, "start() first"
        self.observation, reward, terminated, truncated, self.info = self.env.step(action)
        record = step_record(
            len(self.record.trajectory.steps),
            action,
            self.observation,
            reward,
            terminated,
            truncated,
            self.info,
        )
        record.policy = policy
        self.record.add(record)
        if terminated or truncated:
            self.record.finish(
                OutcomeRecord(
                    outcome=to_jsonable(self.info.get("outcome")),
                    total_reward=sum(self.record.trajectory.rewards),
                    num_steps=len(self.record.trajectory.steps),
                    infra_error=any(
                        bool(step.info.get("infra_error")) for step in self.record.trajectory.steps
                    ),
                )
            )
        return record

    def close(self) -> None:
        """Closes the record and the env."""
        self.close_record()
        self.env.close()


def run_episode(
    env: gym.Env,
    agent: Agent,
    *,
    seed: int | None = None,
    out: str | Path | None = None,
    scenario_id: str | None = None,
    env_kwargs: dict[str, Any] | None = None,
    reward_config: list[str] | None = None,
    on_step: Callable[[StepRecord], None] | None = None,
) -> Trajectory:
    """Resets `env`, lets `agent` act until the episode ends, and returns the trajectory.

    With `out`, each step is appended (and flushed) to a JSONL file as it happens. `on_step` is called with
    each `StepRecord` (e.g. to print step rewards). The header's `scenario_id` (with the file's absolute path
    and content hash when it is a file; the drawn id, from `info["scenario_id"]`, when none was given),
    `env_kwargs` and `reward_config` are what `prm replay` needs to re-create the env. A `PolicyUnavailable` from a model
    agent ends the episode as an infrastructure failure.
    """
    runner = EpisodeRunner(env, env_kwargs=env_kwargs, reward_config=reward_config or [])
    try:
        observation = runner.start(seed=seed, scenario_id=scenario_id, out=out)
        if not runner.done:
            agent.reset(env, observation, runner.info)
        while not runner.done:
            try:
                action = agent.act(runner.observation, runner.info)
            except PolicyUnavailable as err:
                runner.abort(str(err))
                break
            record = runner.step(action, getattr(agent, "last_call", None))
            if on_step is not None:
                on_step(record)
    finally:
        runner.close_record()
    return runner.trajectory


def trajectory_path(
    out: str | Path, env_id: str, scenario: str | None, episode: int, branch: str = ""
) -> Path:
    """Where `rollout` writes episode `episode`: a new file `OUT/<env id>-<scenario>-<episode>.jsonl` (a
    branch of a tree rollout adds `-<branch>`; `.2`, `.3`, ... before the suffix when taken: an earlier run is
    never overwritten)."""
    stem = Path(scenario).stem if scenario else "drawn"
    branch = f"-{branch}" if branch else ""
    return reserve_path(Path(out) / f"{env_id.replace('/', '_')}-{stem}-{episode:04d}{branch}.jsonl")


def fork_agent(agent: Any) -> Any:
    """The agent's session continued independently (`agent.fork()` when it has one, else a deep copy)."""
    return agent.fork() if hasattr(agent, "fork") else copy.deepcopy(agent)


@dataclass
class RolloutTimings:
    """Where a rollout's wall time went: stepping and resetting envs vs calling the policy (seconds)."""

    wall_s: float = 0.0
    env_s: float = 0.0
    policy_s: float = 0.0


@dataclass
class _Slot:
    runner: EpisodeRunner
    agent: Any
    episode: int
    branch: int = 0  # 0: the episode itself; 1, 2, ...: its branches in the order they forked


BACKENDS = ("local", "ray")


class RolloutEngine:
    """Runs `episodes` episodes of `agent` on `num_envs` concurrent envs; `run()` returns the trajectories
    in episode order and fills `timings`. Episode i plays `scenarios[i % len(scenarios)]` with seed
    `seed + i`, whatever slot runs it, so a batched rollout plays the same episodes as a sequential one.

    Tree rollouts (Tree-GRPO; Monte Carlo value labels for PAV): with `branch_every=k` and `branches=b`, each
    episode forks `b - 1` branches after steps k, 2k, ... (`env.unwrapped.fork()`, the agent's session forked
    too), and every branch plays on with the same policy. Branches do not branch again, so the episode's path
    gets b outcomes from each of its branch points. A branch's trajectory starts with its parent's steps and
    records `parent_id` and `branch_step`; `run()` returns each episode followed by its branches. Reward
    wrappers are not carried into forks, so branching takes no `rewards` (rescore the files instead).

    Hooks: `on_start(i)` runs before episode i's env is made and reset (e.g. to bring back a service that the
    reset needs), `on_step(i, record)` after each of its steps."""

    def __init__(
        self,
        env_id: str,
        agent: Agent,
        *,
        scenarios: str | Sequence[str | None] | None = None,
        episodes: int = 1,
        num_envs: int = 1,
        rewards: Sequence[str] = (),
        out: str | Path | None = None,
        seed: int = 0,
        env_kwargs: dict[str, Any] | None = None,
        backend: str = "local",
        address: str | None = None,
        batch: bool = True,
        on_step: Callable[[int, StepRecord], None] | None = None,
        on_start: Callable[[int], None] | None = None,
        branch_every: int | None = None,
        branches: int = 2,
    ):
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        if episodes < 1 or num_envs < 1:
            raise ValueError(f"episodes and num_envs must be >= 1, got {episodes} and {num_envs}")
        self.env_id, self.agent = env_id, agent
        self.scenarios = [scenarios] if scenarios is None or isinstance(scenarios, str) else list(scenarios)
        if not self.scenarios:
            raise ValueError("scenarios is an empty list")
        self.episodes, self.num_envs = episodes, min(num_envs, episodes)
        self.rewards, self.out, self.seed = list(rewards), out, seed
        self.env_kwargs = dict(env_kwargs or {})
        self.batch = batch and hasattr(agent, "act_batch")
        self.on_step, self.on_start = on_step, on_start
        self.timings = RolloutTimings()
        self.backend, self.address = backend, address
        self._ray_pool = None
        if branch_every is not None:
            if branch_every < 1 or branches < 2:
                raise ValueError(
                    f"branch_every must be >= 1 and branches >= 2, got {branch_every} and {branches}"
                )
            if self.rewards:
                raise ValueError("tree rollouts fork bare envs: pass no rewards (prm rescore the branches)")
            if backend != "local":
                raise ValueError("tree rollouts run on backend='local'")
        self.branch_every, self.branches = branch_every, branches
        self.tree_id = uuid.uuid4().hex[:8]

    def _runner(self, make_kwargs: dict[str, Any]) -> Any:
        """An `EpisodeRunner` of a new env here, or a `RemoteRunner` of an env actor on Ray."""
        if self._ray_pool is not None:
            from prm.ray_backend import RemoteRunner

            return RemoteRunner(
                self._ray_pool,
                self.env_id,
                make_kwargs,
                env_kwargs=self.env_kwargs,
                reward_config=self.rewards,
            )
        env = gym.make(self.env_id, **make_kwargs)
        return EpisodeRunner(env, env_kwargs=self.env_kwargs, reward_config=self.rewards)

    def _spawn_agent(self) -> Any:
        return self.agent.spawn() if hasattr(self.agent, "spawn") else copy.deepcopy(self.agent)

    def _open(self, episode: int, agent: Any) -> _Slot:
        if self.on_start is not None:
            self.on_start(episode)
        scenario = self.scenarios[episode % len(self.scenarios)]
        scenario_kwargs = {"scenario": scenario} if scenario is not None else {}
        runner = self._runner(
            {**scenario_kwargs, **self.env_kwargs, **({"rewards": self.rewards} if self.rewards else {})}
        )
        out = trajectory_path(self.out, self.env_id, scenario, episode) if self.out is not None else None
        try:
            tree = {"episode_id": f"{self.tree_id}-{episode:04d}"} if self.branch_every is not None else {}
            observation = runner.start(seed=self.seed + episode, scenario_id=scenario, out=out, **tree)
            if not runner.done:
                agent.reset(runner.env, observation, runner.info)
        except BaseException:
            runner.close()
            raise
        return _Slot(runner, agent, episode)

    def _branch(self, slot: _Slot, number: int) -> _Slot:
        """A fork of `slot`'s env and agent at its current step, recorded as branch `number` of the episode."""
        parent = slot.runner.trajectory
        step = len(parent.steps)
        header = parent.header.model_copy(
            update={
                "episode_id": f"{parent.header.episode_id}-b{number}",
                "parent_id": parent.header.episode_id,
                "branch_step": step,
            }
        )
        scenario = self.scenarios[slot.episode % len(self.scenarios)]
        out = (
            trajectory_path(self.out, self.env_id, scenario, slot.episode, f"b{number}")
            if self.out is not None
            else None
        )
        runner = EpisodeRunner(slot.runner.env.unwrapped.fork(), env_kwargs=self.env_kwargs)
        runner.record = EpisodeRecord(header, out, steps=[s.model_copy(deep=True) for s in parent.steps])
        runner.observation, runner.info = slot.runner.observation, copy.deepcopy(slot.runner.info)
        return _Slot(runner, fork_agent(slot.agent), slot.episode, number)

    def _branches(self, slots: list[_Slot]) -> list[_Slot]:
        """The new branches of every live episode (not branch) that has just taken a multiple of k steps."""
        if self.branch_every is None:
            return []
        forking = [
            slot
            for slot in slots
            if slot.branch == 0
            and not slot.runner.done
            and len(slot.runner.trajectory.steps) % self.branch_every == 0
        ]
        new = []
        for slot in forking:
            first = 1 + (len(slot.runner.trajectory.steps) // self.branch_every - 1) * (self.branches - 1)
            new += [self._branch(slot, first + k) for k in range(self.branches - 1)]
        return new

    def _act(self, slots: list[_Slot]) -> list[str | PolicyUnavailable]:
        observations = [slot.runner.observation for slot in slots]
        infos = [slot.runner.info for slot in slots]
        if self.batch:
            return self.agent.act_batch([slot.agent for slot in slots], observations, infos)
        actions: list[str | PolicyUnavailable] = []
        for slot, observation, info in zip(slots, observations, infos, strict=True):
            try:
                actions.append(slot.agent.act(observation, info))
            except PolicyUnavailable as err:
                actions.append(err)
        return actions

    def run(self, progress: Progress | None = None) -> list[Trajectory]:
        if self.backend == "ray":
            from prm.ray_backend import RayEnvPool

            self._ray_pool = RayEnvPool(self.address)
            try:
                return self._run(progress)
            finally:
                self._ray_pool.shutdown()
                self._ray_pool = None
        return self._run(progress)

    def _run(self, progress: Progress | None) -> list[Trajectory]:
        started = time.perf_counter()
        results: dict[tuple[int, int], Trajectory] = {}
        next_episode = 0
        task = progress.add_task(self.env_id, total=self.episodes) if progress is not None else None
        idle_agents = [self._spawn_agent() for _ in range(self.num_envs)]
        slots: list[_Slot] = []
        with ThreadPoolExecutor(max_workers=self.num_envs) as pool:
            try:
                while True:
                    clock = time.perf_counter()
                    opening = list(range(next_episode, min(next_episode + len(idle_agents), self.episodes)))
                    starting = [idle_agents.pop() for _ in opening]
                    slots += list(pool.map(self._open, opening, starting))
                    next_episode += len(opening)
                    self.timings.env_s += time.perf_counter() - clock
                    self._reap(slots, results, idle_agents, progress, task)  # episodes lost at reset
                    if not slots:
                        if next_episode < self.episodes:
                            continue
                        break
                    clock = time.perf_counter()
                    actions = self._act(slots)
                    self.timings.policy_s += time.perf_counter() - clock
                    clock = time.perf_counter()
                    list(pool.map(self._apply, slots, actions))
                    slots += self._branches(slots)
                    self.timings.env_s += time.perf_counter() - clock
                    self._reap(slots, results, idle_agents, progress, task)
            finally:
                for slot in slots:
                    slot.runner.close()
        self.timings.wall_s = time.perf_counter() - started
        return [results[key] for key in sorted(results)]

    @staticmethod
    def _reap(
        slots: list[_Slot],
        results: dict[tuple[int, int], Trajectory],
        idle_agents: list[Any],
        progress: Progress | None,
        task: Any,
    ) -> None:
        """Moves the finished episodes out of `slots`: trajectory kept, env closed, agent idle again."""
        for slot in [slot for slot in slots if slot.runner.done]:
            results[slot.episode, slot.branch] = slot.runner.trajectory
            slot.runner.close()
            slots.remove(slot)
            if slot.branch:
                continue
            idle_agents.append(slot.agent)
            if progress is not None:
                progress.advance(task)

    def _apply(self, slot: _Slot, action: str | PolicyUnavailable) -> None:
        if isinstance(action, PolicyUnavailable):
            slot.runner.abort(str(action))
            return
        record = slot.runner.step(action, getattr(slot.agent, "last_call", None))
        if record is not None and self.on_step is not None:
            self.on_step(slot.episode, record)


def rollout(
    env_id: str,
    agent: Agent,
    *,
    scenarios: str | Sequence[str | None] | None = None,
    episodes: int = 1,
    num_envs: int = 1,
    rewards: Sequence[str] = (),
    out: str | Path | None = None,
    seed: int = 0,
    env_kwargs: dict[str, Any] | None = None,
    backend: str = "local",
    address: str | None = None,
    batch: bool = True,
    branch_every: int | None = None,
    branches: int = 2,
    show_progress: bool = True,
    console: Console | None = None,
) -> list[Trajectory]:
    """Runs `episodes` episodes of `agent` in `env_id` on `num_envs` concurrent envs and returns their
    trajectories (episode order), written to `out/` as JSONL when given. With `show_progress`, a rich progress
    bar runs and a summary table (success rate, mean return and steps, mean reward components, infra errors)
    is printed at the end. `batch=False` calls the policy once per env instead of once per step.
    `backend="ray"` runs each env in its own Ray actor (`prm.ray_backend`; `address=` an existing cluster,
    else a local Ray started on demand); the trajectories are the same as in-process. `branch_every=k,
    branches=b` makes a tree rollout (see `RolloutEngine`): each episode is followed by its branches."""
    engine = RolloutEngine(
        env_id,
        agent,
        scenarios=scenarios,
        episodes=episodes,
        num_envs=num_envs,
        rewards=rewards,
        out=out,
        seed=seed,
        env_kwargs=env_kwargs,
        backend=backend,
        address=address,
        batch=batch,
        branch_every=branch_every,
        branches=branches,
    )
    if not show_progress:
        return engine.run()
    console = console or Console()
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        trajectories = engine.run(progress)
    console.print(summary_table(summarize(trajectories), title=f"{env_id}: {episodes} episodes"))
    return trajectories
