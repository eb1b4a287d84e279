"""The Ray back end: one actor per env, the same trajectories as in-process, a killed worker's episode flagged
`infra_error` while the others finish, nothing left running, and a clear error for a cluster that is not there."""

import os
import signal
import socket
from pathlib import Path

import pytest
import ray
from typer.testing import CliRunner

from prm import load_trajectory
from prm.agents import OracleAgent
from prm.cli import app
from prm.envs.search_qa import scenario_ids
from prm.ray_backend import EnvActorError, RayUnavailable, start_local_ray
from prm.rollout import rollout
from tests.conditions import wait_until
from tests.sandbox_dirs import private_sandbox_dir

ENV = "prm/search-qa-v0"
SCENARIOS = scenario_ids()[:4]


@pytest.fixture(scope="module", autouse=True)
def sandbox_dir(tmp_path_factory):
    """One local Ray for the module (the rollouts reuse it); its workers and this process put sandbox
    workspaces under a folder of this module, so that its containers are told from other users' by mount."""
    with (
        private_sandbox_dir(tmp_path_factory.mktemp("sandboxes")) as folder,
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setenv("PRM_SANDBOX_DIR", str(folder))
        start_local_ray()
        yield folder
        ray.shutdown()


def our_containers(folder: Path) -> list[str]:
    """Containers (running or not) whose workspace is under `folder`."""
    import docker

    client = docker.from_env()
    try:
        listed = client.api.containers(all=True, filters={"label": "prm.sandbox=1"})
    finally:
        client.close()
    return [
        c["Id"]
        for c in listed
        if any(m.get("Source", "").startswith(str(folder)) for m in c.get("Mounts", []))
    ]


def actor_processes() -> list[int]:
    """Pids of live env actor processes (Ray titles them `ray::EnvActorCore...`)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and b"EnvActorCore" in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def play(backend: str, agent, out=None, episodes: int = 4):
    return rollout(
        ENV,
        agent,
        scenarios=SCENARIOS,
        episodes=episodes,
        num_envs=2,
        seed=3,
        out=out,
        backend=backend,
        show_progress=False,
    )


def test_ray_backend_plays_the_same_trajectories_as_in_process(tmp_path):
    on_ray = play("ray", OracleAgent(), out=tmp_path)
    in_process = play("local", OracleAgent())
    assert [t.model_dump() for t in on_ray] == [t.model_dump() for t in in_process]
    assert [t.outcome.outcome["exact_match"] for t in on_ray] == [1.0] * 4  # the oracle read its env's hooks
    written = sorted(tmp_path.glob("*.jsonl"))  # the driver writes the files
    assert [load_trajectory(path) for path in written] == on_ray
    assert wait_until(lambda: not actor_processes())


class KillsItsWorker(OracleAgent):
    """The oracle, except that in the episode of `victim` its env's worker process is killed (SIGKILL) after
    the first step, as a crash or the OOM killer would."""

    victim = SCENARIOS[1]

    def reset(self, env, observation, info):
        super().reset(env, observation, info)
        self.worker = env.unwrapped.worker_pid if info["scenario_id"] == self.victim else None

    def act(self, observation, info):
        if self.worker is not None and self._next == 1:
            os.kill(self.worker, signal.SIGKILL)
        return super().act(observation, info)


def test_killed_worker_is_an_infra_error_and_the_rest_complete(tmp_path):
    assert actor_processes() == []
    trajectories = play("ray", KillsItsWorker(), out=tmp_path)
    flagged = [t.header.scenario_id for t in trajectories if t.outcome.infra_error]
    assert flagged == [KillsItsWorker.victim]
    victim = trajectories[1]
    assert victim.outcome.outcome["reward"] is None and "Ray actor" in victim.outcome.outcome["infra_error"]
    assert len(victim.steps) == 1  # what it did before the kill is kept
    assert all(t.outcome.outcome["exact_match"] == 1.0 for t in trajectories if not t.outcome.infra_error)
    assert load_trajectory(sorted(tmp_path.glob("*.jsonl"))[1]).outcome.infra_error  # and on disk
    assert wait_until(lambda: not actor_processes())


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cluster_address_that_does_not_answer_is_named_and_nothing_starts():
    address = f"127.0.0.1:{free_port()}"
    with pytest.raises(RayUnavailable, match=f"no Ray cluster answers at {address}"):
        rollout(ENV, OracleAgent(), backend="ray", address=address, show_progress=False)
    assert actor_processes() == []
    result = CliRunner().invoke(app, ["run", ENV, "--backend", "ray", "--address", address])
    assert result.exit_code == 2 and f"no Ray cluster answers at {address}" in result.output


def test_prm_run_backend_ray(tmp_path):
    result = CliRunner().invoke(
        app,
        ["run", ENV, "--backend", "ray", "--num-envs", "2", "--episodes", "2", "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    trajectories = [load_trajectory(path) for path in sorted(tmp_path.glob("*.jsonl"))]
    assert len(trajectories) == 2 and all(t.outcome.outcome["exact_match"] == 1.0 for t in trajectories)


def test_actor_that_cannot_make_its_env_is_a_clear_error_and_nothing_is_left():
    with pytest.raises(
        EnvActorError, match="could not start prm/search-qa-v0 .*ValueError: mode must be one of"
    ):
        rollout(
            ENV,
            OracleAgent(),
            num_envs=2,
            episodes=2,
            env_kwargs={"mode": "nonsense"},
            backend="ray",
            show_progress=False,
        )
    assert wait_until(lambda: not actor_processes())


@pytest.mark.docker
def test_swe_on_ray_plays_the_same_trajectories_and_leaves_no_container(sandbox_dir):
    def swe(backend: str):
        return rollout(
            "prm/swe-v0", OracleAgent(), episodes=2, num_envs=2, seed=5, backend=backend, show_progress=False
        )

    on_ray = swe("ray")
    assert wait_until(lambda: not actor_processes())
    assert wait_until(lambda: not our_containers(sandbox_dir))  # spares of the actors' processes too
    in_process = swe("local")  # (its spares go when this process exits)
    assert [t.model_dump() for t in on_ray] == [t.model_dump() for t in in_process]
    assert all(t.outcome.outcome["resolved"] for t in on_ray)


def test_prm_bench_scale_reports_every_configuration():
    result = CliRunner().invoke(
        app,
        ["bench", "scale", "--env", ENV, "--episodes", "2", "--envs", "1", "--envs", "2", "--nodes", "2"],
        env={"COLUMNS": "300"},
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("│ ")]
    assert [row.split("│")[1:3] for row in rows] == [
        [f" {backend:<8} ", f" {n:<4} "] for backend in ("local", "ray") for n in (1, 2)
    ]
    assert "projected:" in result.output and "2 nodes x 32 cores" in result.output
    assert wait_until(lambda: not actor_processes())


@pytest.mark.docker
def test_killed_swe_worker_leaves_no_container_or_folder(sandbox_dir):
    class KillsItsFirstWorker(KillsItsWorker):
        """Kills the worker of the first episode, whatever its scenario."""

        played = False

        def reset(self, env, observation, info):
            OracleAgent.reset(self, env, observation, info)
            self.worker = None if self.played else env.unwrapped.worker_pid
            self.played = True

    trajectories = rollout(
        "prm/swe-v0",
        KillsItsFirstWorker(),
        episodes=2,
        num_envs=1,
        seed=5,
        backend="ray",
        show_progress=False,
    )
    assert [t.outcome.infra_error for t in trajectories] == [True, False]
    assert trajectories[1].outcome.outcome["resolved"]
    assert wait_until(lambda: not actor_processes())
    assert wait_until(lambda: not our_containers(sandbox_dir))
    assert wait_until(lambda: not list(sandbox_dir.glob("prm-*")))
