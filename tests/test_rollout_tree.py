"""Tree rollouts: episodes fork branches every k steps (`env.unwrapped.fork()`), branches record their parent
and branch point, and `prm export` groups the siblings with a Monte Carlo value label per branch point."""

import datasets
import pytest
from typer.testing import CliRunner

from prm import load_trajectory
from prm.agents import OracleAgent
from prm.cli import app
from prm.envs.search_qa import scenario_ids
from prm.rollout import rollout

ENV = "prm/search-qa-v0"
WRONG = '{"tool": "answer", "args": {"text": "nobody"}}'


class OracleWhoseBranchesAnswerWrong(OracleAgent):
    """The oracle; a forked session plays the same moves but gives a wrong answer, so siblings differ."""

    def fork(self):
        branch = self.spawn()
        branch.actions = [WRONG if '"answer"' in action else action for action in self.actions]
        return branch


def test_branches_fork_every_k_steps_and_record_their_parent(tmp_path):
    trajectories = rollout(
        ENV,
        OracleWhoseBranchesAnswerWrong(),
        scenarios=scenario_ids()[:2],
        episodes=2,
        num_envs=2,
        out=tmp_path / "runs",
        branch_every=1,
        branches=2,
        show_progress=False,
    )
    roots = [t for t in trajectories if t.header.parent_id is None]
    assert len(roots) == 2 and all(t.outcome.outcome["exact_match"] == 1.0 for t in roots)
    for root in roots:
        branches = [t for t in trajectories if t.header.parent_id == root.header.episode_id]
        assert [b.header.branch_step for b in branches] == list(range(1, root.outcome.num_steps))
        for branch in branches:  # the shared prefix, then its own way: the root's env was not touched
            step = branch.header.branch_step
            assert branch.steps[:step] == root.steps[:step]
            assert branch.actions[-1] == WRONG and branch.outcome.outcome["exact_match"] == 0.0
            assert branch.header.scenario_id == root.header.scenario_id
    assert len(list((tmp_path / "runs").glob("*.jsonl"))) == len(trajectories)
    assert {load_trajectory(p).header.parent_id for p in (tmp_path / "runs").glob("*-b1.jsonl")} == {
        root.header.episode_id for root in roots
    }

    result = CliRunner().invoke(app, ["export", str(tmp_path / "runs"), "--out", str(tmp_path / "pq")])
    assert result.exit_code == 0, result.output
    groups = datasets.load_dataset("parquet", data_files=str(tmp_path / "pq" / "groups.parquet"))["train"]
    assert len(groups) == sum(t.header.parent_id is not None for t in trajectories)
    for group in groups:
        assert len(group["members"]) == 2 and group["outcome_rewards"] == [1.0, 0.0]
        assert group["mc_value"] == 0.5  # V(s_t) read off the two siblings from the branch point


def test_tree_rollouts_refuse_what_they_cannot_fork():
    with pytest.raises(ValueError, match="pass no rewards"):
        rollout(ENV, OracleAgent(), branch_every=1, rewards=["minform"], show_progress=False)
    with pytest.raises(ValueError, match="branches >= 2"):
        rollout(ENV, OracleAgent(), branch_every=1, branches=1, show_progress=False)
