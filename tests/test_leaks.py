"""Nothing is left behind: vector-env workers and envs dropped without `close()` leave no container (fork
spares included) and no sandbox directory, counted by the owner labels and in a private `PRM_SANDBOX_DIR`."""

from __future__ import annotations

import gc
import json
import os

import docker
import gymnasium as gym
import pytest

import prm  # noqa: F401  (registers the env ids)
from prm.sandboxes.labels import SANDBOX_LABEL
from tests.conditions import wait_until
from tests.sandbox_dirs import private_sandbox_dir

pytestmark = pytest.mark.docker

SCENARIO = "toolz-groupby-key"
STEP = json.dumps({"tool": "bash", "args": {"command": "echo x > a.txt"}})


def containers_of(pids: set[int]) -> set[str]:
    client = docker.from_env()
    try:
        found = client.containers.list(all=True, filters={"label": SANDBOX_LABEL}, ignore_removed=True)
        return {c.id for c in found if c.labels.get("prm.owner.pid") in {str(pid) for pid in pids}}
    finally:
        client.close()


@pytest.fixture
def sandbox_dir(tmp_path, monkeypatch):
    with private_sandbox_dir(tmp_path) as folder:
        monkeypatch.setenv("PRM_SANDBOX_DIR", str(folder))
        yield folder


def test_async_vector_env_workers_leave_no_container_spare_or_directory(sandbox_dir):
    envs = gym.make_vec(
        "prm/swe-v0",
        num_envs=2,
        vectorization_mode="async",
        vector_kwargs={"shared_memory": False},
        scenario=SCENARIO,
        sandbox="docker",
        rewards=["progress:mc:n=1,horizon=1"],  # forks at every step: a spare container per worker
    )
    workers = {process.pid for process in envs.processes}
    envs.reset(seed=0)
    *_, infos = envs.step([STEP, STEP])
    assert not any(infos["infra_error"])
    assert len(containers_of(workers)) >= 4 and len(os.listdir(sandbox_dir)) >= 4  # env, pool, spare
    envs.close()
    assert wait_until(lambda: not containers_of(workers)), containers_of(workers)
    assert os.listdir(sandbox_dir) == []


def test_an_env_dropped_without_close_leaves_nothing(sandbox_dir):
    before = containers_of({os.getpid()})
    env = gym.make("prm/swe-v0", scenario=SCENARIO, sandbox="docker")
    env.reset(seed=0)
    env.step(STEP)
    fork = env.unwrapped.fork()  # starts a spare for the next fork
    fork.step(STEP)
    assert len(containers_of({os.getpid()}) - before) >= 3
    del env, fork
    gc.collect()
    assert wait_until(lambda: not containers_of({os.getpid()}) - before)
    assert wait_until(lambda: os.listdir(sandbox_dir) == [])
