#!/usr/bin/env bash
# The test command: installs everything the tests need (Docker engine included), then runs lint and all tests.
# Docker tests fail instead of skipping (PRM_REQUIRE_DOCKER=1) unless you set PRM_REQUIRE_DOCKER=0.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh dev,ml,web
export PRM_REQUIRE_DOCKER="${PRM_REQUIRE_DOCKER:-1}"
ruff check .
ruff format --check .
python3 -m pytest -q "$@"
