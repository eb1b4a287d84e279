"""`scripts/setup.sh`: installs into a project virtual environment (never the system interpreter), the dev
tools included (`ruff`, `pytest` in its `bin/`), and a second call installs nothing."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _setup(venv: Path, extras: str = "") -> str:
    result = subprocess.run(
        [str(ROOT / "scripts" / "setup.sh"), extras],
        env={**os.environ, "PRM_VENV": str(venv)},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.mark.docker  # setup.sh also makes sure a Docker engine answers
def test_setup_installs_into_a_venv_and_skips_when_installed(tmp_path):
    venv = tmp_path / "venv"
    first = _setup(venv, "dev")
    assert "creating the virtual environment" in first and "pip install -e .[dev]" in first
    for tool in ("ruff", "pytest"):  # the dev tools are the venv's own, not only the system's
        assert (venv / "bin" / tool).is_file(), tool
        version = subprocess.run([str(venv / "bin" / tool), "--version"], capture_output=True, text=True)
        assert version.returncode == 0 and version.stdout.strip(), (tool, version.stderr)
    found = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import prm, sys; print(prm.__file__, sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert Path(found[0]).is_relative_to(ROOT) and Path(found[1]) == venv  # this checkout, in the venv
    assert Path(found[1]) != Path(sys.base_prefix)

    second = _setup(venv, "dev")
    assert "nothing to do" in second and "pip install" not in second

    (venv / "bin" / "ruff").unlink()  # a venv set up before the dev tools went into it
    repaired = _setup(venv, "dev")
    assert "dev tools" in repaired and "pip install -e" not in repaired and (venv / "bin" / "ruff").is_file()

    (venv / ".prm-gym-installed").write_text("0" * 64 + " none " + str(ROOT) + "\n")  # pyproject changed
    assert "pip install -e ." in _setup(venv)


def test_readme_commands_write_only_into_ignored_folders():
    """Every file a README command writes (`--out`, `--json`) lands where git ignores it, never as an
    untracked file in the checkout root."""
    import re

    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    outputs = [path for block in blocks for path in re.findall(r"--(?:out|json) (\S+)", block)]
    assert len(outputs) >= 4, outputs
    ignored = subprocess.run(
        ["git", "check-ignore", "--no-index", *outputs], cwd=ROOT, capture_output=True, text=True
    ).stdout.split()
    assert sorted(ignored) == sorted(outputs)
