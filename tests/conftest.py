"""Shared fixtures. `docker_engine`: skips a test when no Docker engine answers, fails it under PRM_REQUIRE_DOCKER=1."""

from __future__ import annotations

import os

import pytest

from prm.sandboxes.select import docker_engine_problem


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Use in every test that needs a Docker engine (or mark the module with `pytest.mark.docker` too)."""
    problem = docker_engine_problem()
    if problem is None:
        return
    if os.environ.get("PRM_REQUIRE_DOCKER") == "1":
        pytest.fail(f"PRM_REQUIRE_DOCKER=1 but no Docker engine answers: {problem}")
    pytest.skip(f"no Docker engine answers: {problem}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `docker` get the `docker_engine` fixture, so they skip or fail like the fixture says."""
    for item in items:
        if item.get_closest_marker("docker") and "docker_engine" not in item.fixturenames:
            item.fixturenames.insert(0, "docker_engine")


from tests.agent_fixtures import tiny_models, tiny_swe_model  # noqa: E402, F401  (session fixtures of model agents)
