#!/usr/bin/env bash
# Builds (or goes on building: every output folder is resumable) the synthesised SWE pack in
# scenarios/swe_synth/<package>/ with `prm scenario synth`, then writes the pack manifest.
# Usage: nice -n 19 scripts/synth_swe_pack.sh [N_PER_PACKAGE [PACKAGE==VERSION...]]
# (default: the list below; a package whose suite does not pass is skipped)
set -u
cd "$(dirname "$0")/.."
PRM="${PRM:-.venv/bin/prm}"
PYTHON="${PYTHON:-.venv/bin/python}"
N="${1:-20}"
shift || true
DEFAULT_PACKAGES=(  # fast suites first
  toolz==1.0.0 inflection==0.5.1 six==1.16.0 xmltodict==0.13.0 parse==1.20.2 idna==3.10 mccabe==0.7.0
  colorama==0.4.6 pathspec==0.12.1 wcwidth==0.2.13 jmespath==1.0.1 sqlparse==0.5.1 astor==0.8.1
  unidecode==1.3.8 sortedcontainers==2.4.0 boltons==24.0.0 more-itertools==10.5.0 pyflakes==3.2.0
)
if [ $# -gt 0 ]; then PACKAGES=("$@"); else PACKAGES=("${DEFAULT_PACKAGES[@]}"); fi
for spec in "${PACKAGES[@]}"; do
  name="${spec%%==*}"
  echo "== $spec ($(date -u +%H:%M:%S))"
  "$PRM" scenario synth "$spec" --n "$N" --out "scenarios/swe_synth/$name" --max-candidates $((N * 8)) || echo "== skipped $spec"
done
"$PYTHON" - <<'PY'
import json
from pathlib import Path

from prm.envs.swe.synth import pack_manifest

root = Path("scenarios/swe_synth")
(root / "manifest.json").write_text(json.dumps(pack_manifest(root), indent=1) + "\n")
PY
