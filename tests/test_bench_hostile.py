"""`prm bench hostile`: the fast subset of the attack battery runs against every family on every CI run (real
Docker, Chromium and Xvfb), and the battery's verdicts are shown to fail on an env that really leaks; a container
killed, a model endpoint or a search service down mid-rollout are infrastructure failures and the rollout
completes; a small load leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from prm.bench.faults import GENERIC_FAULTS, engine_process, judge, run_fault
from prm.bench.hostile import (
    Attack,
    Outcome,
    Target,
    attack_family,
    contained,
    faults_for,
    host_fixtures,
    run_battery,
)
from prm.bench.load import run_load
from prm.cli import app
from prm.env import PrmEnv
from prm.envs.search_qa import hostile as search_qa
from prm.envs.swe import hostile as swe
from prm.models import OutcomeRecord, Trajectory, TrajectoryHeader
from prm.registration import families
from prm.tools import Tool, ToolResult


@pytest.mark.docker
@pytest.mark.parametrize("family", sorted(name for name, f in families().items() if f.hostile))
def test_the_fast_battery_finds_no_leak(family):
    results = run_battery([family], fast=True, faults=False)
    assert results, f"no fast attack for {family}"
    assert {r.family for r in results} == {family}
    bad = [(r.attack, r.verdict) for r in results if r.verdict.outcome in (Outcome.LEAKED, Outcome.ERROR)]
    assert bad == []


class PathArgs(BaseModel):
    path: str


class LeakyEnv(PrmEnv):
    """A deliberately unsafe env: `cat` reads any host path, `boom` raises out of step."""

    def _start(self, seed, options):
        return "read files"

    def _tools(self):
        def boom(args):
            raise ZeroDivisionError("inside the tool")

        return [
            Tool("cat", "read a host file", PathArgs, lambda args: ToolResult(Path(args.path).read_text())),
            Tool("boom", "raise", PathArgs, boom),
        ]

    def _grade(self):
        return {"reward": 0.0}


def read_canary(arena):
    arena.call("cat", path=str(arena.canary.path))
    raise AssertionError("unreachable: the canary's content in an observation is a leak")


def write_canary(arena):
    arena.canary.path.write_text("changed")  # as an escaped write would
    arena.call("cat", path="/dev/null")
    return contained("the attack itself saw nothing")


LEAKY = Target(
    make=LeakyEnv,
    fuzz_tools={"cat": ["path"]},
    attacks=(
        Attack("read the canary", "hidden material", read_canary, fast=True),
        Attack("raise out of step", "bad input", lambda arena: arena.call("boom", path="x"), fast=True),
        Attack("touch the host", "escapes", write_canary, fast=True),
    ),
)


def test_the_battery_reports_what_really_leaks():
    with host_fixtures() as (canary, service):
        results = {r.attack: r.verdict for r in attack_family("leaky", LEAKY, canary, service, fast=True)}
    assert results["read the canary"].outcome is Outcome.LEAKED
    assert "canary" in results["read the canary"].detail
    assert results["raise out of step"] == (Outcome.LEAKED, results["raise out of step"].detail)
    assert "ZeroDivisionError" in results["raise out of step"].detail
    assert results["touch the host"].outcome is Outcome.LEAKED
    assert "changed" in results["touch the host"].detail
    bad_bytes = results["bad bytes (NUL, surrogate, 300 KB)"]  # a NUL byte reaches the unsafe tool: it raises
    assert bad_bytes.outcome is Outcome.LEAKED and "embedded null byte" in bad_bytes.detail


def test_prm_bench_hostile_prints_the_table_and_exits_zero_when_nothing_leaked():
    result = CliRunner().invoke(
        app, ["bench", "hostile", "--family", "search_qa", "--fast"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 0, result.output
    assert "answer probing" in result.output and "contained" in result.output
    assert "search service down" in result.output  # the family's fast fault
    assert "0 leaked" in result.output
    unknown = CliRunner().invoke(app, ["bench", "hostile", "--family", "nope"])
    assert unknown.exit_code == 2 and "no hostile target for nope" in unknown.output


@pytest.mark.docker
def test_a_container_killed_mid_rollout_is_an_infra_error_and_the_rest_complete():
    killed = next(fault for fault in swe.TARGET.faults if fault.name == "container killed")
    verdict = run_fault("prm/swe-v0", swe.TARGET.scenario, killed, episodes=3)
    assert verdict.outcome is Outcome.CONTAINED, verdict.detail
    assert verdict.detail.startswith("episodes [1] flagged infra_error; rewards [1.0, None, 1.0]")


@pytest.mark.parametrize(
    "name, flagged, rewards",
    [
        # the episode beside the victim asks the endpoint in the same batch: it is lost too
        ("model endpoint down, then back", [0, 1], [None, None, 1.0]),
        ("model endpoint down for good", [0, 1, 2], [None, None, None]),
        # episode 0 steps beside the victim while the service is down; episode 2 needs it at reset
        ("search service down, then back", [0, 1], [None, None, 1.0]),
        ("search service down for good", [0, 1, 2], [None, None, None]),
    ],
)
def test_a_service_down_mid_rollout_fails_the_episodes_that_need_it_until_it_is_back(name, flagged, rewards):
    down = next(fault for fault in (*GENERIC_FAULTS, *search_qa.TARGET.faults) if fault.name == name)
    verdict = run_fault("prm/search-qa-v0", search_qa.SCENARIO, down)
    assert verdict.outcome is Outcome.CONTAINED, verdict.detail
    assert verdict.detail.startswith(f"episodes {flagged} flagged infra_error; rewards {rewards}")


def _ended(reward, infra_error):
    return Trajectory(
        header=TrajectoryHeader(env_id="prm/search-qa-v0", scenario_id="q", seed=0, prm_version="0"),
        outcome=OutcomeRecord(
            outcome={"reward": reward}, total_reward=0.0, num_steps=1, infra_error=infra_error
        ),
    )


def test_the_fault_verdict_fails_on_a_zero_an_unflagged_victim_or_an_episode_left_ungraded():
    graded, lost = _ended(1.0, False), _ended(None, True)
    assert judge([graded, lost, graded]).outcome is Outcome.CONTAINED
    assert "not flagged" in judge([graded, graded, graded]).detail
    assert "zero reward" in judge([graded, _ended(0.0, True), graded]).detail
    assert "were not graded" in judge([graded, lost, lost]).detail
    assert "not flagged infra_error" in judge([graded, lost, graded], stays_down=True).detail


@pytest.mark.docker
def test_the_engine_restart_is_opt_in_and_aims_at_the_engine_the_client_uses(monkeypatch):
    names = [fault.name for fault in faults_for(swe.TARGET)]
    assert "Docker engine restarted" not in names and "container killed" in names
    assert "Docker engine restarted" in [f.name for f in faults_for(swe.TARGET, engine_restart=True)]
    assert engine_process().name() == "dockerd"  # found, not touched
    monkeypatch.setenv("DOCKER_HOST", "unix:///nowhere/prm-no-such-engine.sock")
    with pytest.raises(RuntimeError, match="0 dockerd processes serve /nowhere/prm-no-such-engine.sock"):
        engine_process()


@pytest.mark.docker
def test_oracle_rollouts_at_4_envs_leave_nothing_behind():
    result = run_load(["search_qa", "swe"], episodes=8, num_envs=4)
    assert result.graded == {"search_qa": 4, "swe": 4}
    assert result.left() == {}
    assert result.before.fds > 0 and result.after.containers == result.before.containers
