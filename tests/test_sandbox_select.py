"""open_sandbox: back-end choice, bad input, and the docker_engine fixture's skip/fail behaviour."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from prm.errors import SandboxUnavailable, UnknownSandboxKind
from prm.sandboxes import LocalSandbox, open_sandbox
from prm.sandboxes.select import _notice

DEAD_DOCKER_HOST = "unix:///nonexistent/prm-dead-docker.sock"


def test_unknown_kind_is_a_typed_error():
    with pytest.raises(UnknownSandboxKind, match="'podman'.*auto, docker, local"):
        open_sandbox("podman")


def test_forced_docker_without_engine_is_unavailable(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", DEAD_DOCKER_HOST)
    with pytest.raises(SandboxUnavailable, match="no Docker engine answers"):
        open_sandbox("docker")


def test_docker_sandbox_without_engine_is_unavailable(monkeypatch):
    from prm.sandboxes.docker import DockerSandbox

    monkeypatch.setenv("DOCKER_HOST", DEAD_DOCKER_HOST)
    with pytest.raises(SandboxUnavailable, match="needs a Docker engine"):
        DockerSandbox()


def test_auto_without_engine_falls_back_to_local_with_a_notice(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("DOCKER_HOST", DEAD_DOCKER_HOST)
    (tmp_path / "f.txt").write_text("seeded")
    _notice.cache_clear()
    with (
        caplog.at_level(logging.WARNING, logger="prm.sandboxes"),
        open_sandbox("auto", workspace_from=tmp_path) as sb,
    ):
        assert isinstance(sb, LocalSandbox)
        assert sb.exec("cat f.txt").stdout == "seeded"
    notices = [r.getMessage().split(" (")[0] for r in caplog.records]
    assert notices == [
        "sandbox=auto: using LocalSandbox, weaker isolation: no container, the host's network and files are reachable"
    ]
    with caplog.at_level(logging.WARNING, logger="prm.sandboxes"), open_sandbox("auto"):
        pass
    assert len(caplog.records) == 1  # once per process, not at every episode


@pytest.mark.docker
def test_auto_with_engine_uses_docker(caplog):
    from prm.sandboxes.docker import DockerSandbox

    _notice.cache_clear()
    with caplog.at_level(logging.WARNING, logger="prm.sandboxes"), open_sandbox("auto") as sb:
        assert isinstance(sb, DockerSandbox)
        assert sb.exec("echo $((6 * 7))").stdout == "42\n"
    assert any("using Docker" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(("require", "outcome"), [("0", "1 skipped"), ("1", "1 error")])
def test_docker_engine_fixture_skips_or_fails(tmp_path, require, outcome):
    conftest = Path(__file__).with_name("conftest.py")
    (tmp_path / "conftest.py").write_text(conftest.read_text())
    (tmp_path / "test_inner.py").write_text("def test_needs_docker(docker_engine):\n    assert True\n")
    env = {**os.environ, "DOCKER_HOST": DEAD_DOCKER_HOST, "PRM_REQUIRE_DOCKER": require}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert outcome in proc.stdout, proc.stdout[-2000:]
