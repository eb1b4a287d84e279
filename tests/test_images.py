"""Offline image building: apt mirror discovery, content-hash caching, layered images, failures, CLI."""

from __future__ import annotations

import subprocess
import sys

import docker
import pytest
from typer.testing import CliRunner

from prm.cli import app
from prm.errors import ImageBuildError
from prm.sandboxes.docker import DockerSandbox
from prm.sandboxes.images import BASE_PACKAGES, base_image_tag, build_image, debian_mirror

DEB822 = """Types: deb
# a comment
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /nonexistent/keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
"""


def test_mirror_comes_from_deb822_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(DEB822)
    (tmp_path / "sources.list.d" / "other.list.disabled").write_text(
        "deb http://wrong.example/ bookworm main\n"
    )
    assert debian_mirror("bookworm", apt_root=tmp_path) == ("http://mirror.example/debian", None)


def test_mirror_comes_from_one_line_sources_list(tmp_path):
    (tmp_path / "sources.list").write_text(
        "# deb http://commented.example/debian bookworm main\n"
        "deb-src http://src.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/nonexistent.gpg] http://one.example/debian bookworm main contrib\n"
    )
    assert debian_mirror("bookworm", apt_root=tmp_path) == ("http://one.example/debian", None)


def test_missing_mirror_names_the_step(tmp_path):
    (tmp_path / "sources.list").write_text("deb http://one.example/debian trixie main\n")
    with pytest.raises(ImageBuildError, match="'find-mirror'.*bookworm"):
        debian_mirror("bookworm", apt_root=tmp_path)


def test_base_tag_is_a_content_hash_of_the_recipe():
    assert base_image_tag() == base_image_tag(tuple(reversed(BASE_PACKAGES)))
    assert base_image_tag() != base_image_tag((*BASE_PACKAGES, "curl"))
    assert base_image_tag().startswith("prm-base:")


def test_bad_build_input_is_a_typed_error(tmp_path):
    with pytest.raises(TypeError, match="requirements"):
        build_image(requirements=[3])
    with pytest.raises(ValueError, match="must be absolute"):
        build_image(files={"relative/path": tmp_path})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        build_image(files={"/opt/x": tmp_path / "missing"})


@pytest.mark.docker
def test_layered_image_is_cached_and_usable(tmp_path):
    (tmp_path / "data.txt").write_text("copied in")
    tag = build_image(requirements=["iniconfig==2.0.0"], files={"/opt/prm-test": tmp_path})
    client = docker.from_env()
    image_id = client.images.get(tag).id
    assert build_image(requirements=["iniconfig==2.0.0"], files={"/opt/prm-test": tmp_path}) == tag
    assert client.images.get(tag).id == image_id  # the second build was a no-op
    (tmp_path / "data.txt").write_text("changed")
    assert build_image(requirements=["iniconfig==2.0.0"], files={"/opt/prm-test": tmp_path}) != tag
    client.close()
    with DockerSandbox(image=tag) as sb:
        result = sb.exec(
            "python3 -c 'import importlib.metadata as m; print(m.version(\"iniconfig\"))' && cat /opt/prm-test/data.txt"
        )
        assert result.stdout == "2.0.0\ncopied in"
        assert sb.exec("id -u").stdout == "1000\n"
        assert sb.exec("echo x > /opt/prm-test/data.txt").exit_code != 0


@pytest.mark.docker
def test_failed_download_names_the_step_and_shows_the_log():
    with pytest.raises(ImageBuildError, match="(?s)'pip-download'.*last lines.*iniconfig"):
        build_image(requirements=["iniconfig==0.0.0.1"])


SOCKETS_AFTER_LOOKUPS = """
import contextlib, os
from prm.errors import ImageBuildError
from prm.sandboxes.images import build_base_image, build_image

def open_sockets():  # a Docker client's connections to the engine among them
    links = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(FileNotFoundError):  # the listing's own descriptor, closed by now
            links.append(os.readlink(f"/proc/self/fd/{fd}"))
    return sum(link.startswith("socket:") for link in links)

tag = build_image(requirements=["iniconfig==2.0.0"])
before = open_sockets()
build_base_image()  # found, not built
assert build_image(requirements=["iniconfig==2.0.0"]) == tag  # found, not built
try:
    build_image(requirements=["iniconfig==0.0.0.1"])
except ImageBuildError as failure:
    kept = failure  # the failure, with its frames, is still held
    print(before, open_sockets())
"""


@pytest.mark.docker
def test_lookups_and_failed_builds_leave_no_engine_connection_open():
    """In a process of its own, so that no other test's background work opens sockets meanwhile."""
    run = subprocess.run(
        [sys.executable, "-c", SOCKETS_AFTER_LOOKUPS], capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stderr[-2000:]
    before, after = run.stdout.split()
    assert after == before


@pytest.mark.docker
def test_cli_build_prints_the_tag():
    result = CliRunner().invoke(app, ["image", "build", "-r", "iniconfig==2.0.0"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == build_image(requirements=["iniconfig==2.0.0"])
