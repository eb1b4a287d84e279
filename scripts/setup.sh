#!/usr/bin/env bash
# Installs what prm-gym needs on a Debian machine (run as root) and starts the Docker engine if none answers.
# Idempotent: a second run only checks. Usage: ./scripts/setup.sh [pip extras, e.g. dev,ml; default: none]
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
command -v chromium >/dev/null || need_apt+=(chromium chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "[setup] starting dockerd (no bridge network: containers get only loopback)"
  nohup dockerd --bridge=none --iptables=false >/tmp/prm-dockerd.log 2>&1 &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "[setup] dockerd did not start; see /tmp/prm-dockerd.log" >&2; tail -20 /tmp/prm-dockerd.log >&2; exit 1; }
fi

# torch first and pinned: the machine's CPU build; an unpinned torch would pull GBs of CUDA packages.
if [[ ",$extras," == *",ml,"* ]] && ! python3 -c "import torch" 2>/dev/null; then
  echo "[setup] pip install torch==2.13.0 (CPU)"
  python3 -m pip install -q torch==2.13.0
fi
echo "[setup] pip install -e .${extras:+[$extras]}"
python3 -m pip install -q -e ".${extras:+[$extras]}"
