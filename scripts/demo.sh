#!/usr/bin/env bash
# The main job: the oracle agent fixes a real bug (toolz groupby) inside a Docker sandbox, after a detour that
# adds and removes a type error, with process rewards
# from a warm Pyright language server and the fraction of failing tests fixed, printing every step's reward.
# Extra arguments go to `prm run` (e.g. --scenario scenarios/swe --episodes 10).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
venv="${PRM_VENV:-.venv}"
exec "$venv/bin/prm" run prm/swe-v0 --scenario toolz-groupby-key --agent oracle:detour --reward lsp --reward progress:test_pass --out runs "$@"
