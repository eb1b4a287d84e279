"""Every `prm` verb reports prm-gym's own errors as one line and exit code 2; `--debug` shows the traceback."""

import pytest
from typer.testing import CliRunner

from prm.cli import app
from prm.errors import TrajectoryError

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "prm/search-qa-v0", "--reward", "lps"], "unknown reward 'lps'"),
        (["run", "prm/search-qa-v0", "--scenario", "no-such-question"], "no-such-question: field 'id'"),
        (["run", "prm/search-qa-v0", "--kw", "mode=distracter"], "mode must be one of"),
        (["run", "prm/search-qa-v0", "--kw", "colour=blue"], "unexpected keyword argument 'colour'"),
        (["run", "prm/swe-v0", "--scenario", "toolz-groupby-key", "--sandbox", "dokcer"], "'dokcer'"),
        (["replay", "runs/nope.jsonl"], "runs/nope.jsonl: no such trajectory file"),
        (["rescore", "runs/nope.jsonl", "--reward", "lsp"], "no such trajectory file"),
    ],
)
def test_project_errors_are_one_line_and_exit_code_2(tmp_path, args, message):
    result = runner.invoke(app, [*args, "--out", str(tmp_path)] if args[0] == "run" else args)
    assert result.exit_code == 2, result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(error_lines) == 1 and message in error_lines[0], result.output
    assert "Traceback" not in result.output and not result.output.rstrip().endswith("|")


def test_debug_shows_the_traceback():
    result = runner.invoke(app, ["--debug", "replay", "runs/nope.jsonl"])
    assert result.exit_code != 0 and isinstance(result.exception, TrajectoryError)


def test_a_malformed_trajectory_names_file_and_line_and_usage_errors_stay_typers(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    result = runner.invoke(app, ["replay", str(bad)])
    assert result.exit_code == 2 and f"{bad}:1: not a trajectory record" in result.output
    usage = runner.invoke(app, ["run"])
    assert usage.exit_code == 2 and "Missing argument" in usage.output
