"""`prm bench agents` on a small run: every configuration is measured and reported (no timing asserted), and
torch's thread setting is put back afterwards."""

import pytest
from typer.testing import CliRunner

from prm.bench.agents import CONFIGS
from prm.cli import app


def test_bench_agents_reports_every_configuration_and_restores_torch_threads():
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        args = [
            "bench",
            "agents",
            "--episodes",
            "2",
            "--max-steps",
            "1",
            "--rounds",
            "2",
            "--torch-threads",
            "1",
        ]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        assert torch.get_num_threads() == 2  # the bench's 1 thread was for its own run
    finally:
        torch.set_num_threads(before)
    assert result.exit_code == 0, result.output
    assert "2 episodes per configuration (best of 2 rounds), torch threads: 1" in result.output
    rows = {
        name: line for line in result.output.splitlines() for name in CONFIGS if line.startswith(f"│ {name} ")
    }
    assert list(rows) == list(CONFIGS)
    assert "│ 1.00 " in rows["num_envs=1"]  # the baseline of the ratios
