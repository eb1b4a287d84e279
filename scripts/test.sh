#!/usr/bin/env bash
# The test command: installs everything the tests need (Docker engine included) into the project's virtual
# environment `.venv`, then runs lint and all tests with it.
# Docker tests fail instead of skipping (PRM_REQUIRE_DOCKER=1) unless you set PRM_REQUIRE_DOCKER=0.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh dev,ml,web,ray
venv="${PRM_VENV:-.venv}"
export PRM_REQUIRE_DOCKER="${PRM_REQUIRE_DOCKER:-1}"
"$venv/bin/python" -m ruff check .
"$venv/bin/python" -m ruff format --check .
"$venv/bin/python" -m pytest -q "$@"
