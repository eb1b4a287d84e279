#!/usr/bin/env bash
# Installs what prm-gym needs on a Debian machine (run as root), starts the Docker engine if none answers, and
# installs prm-gym into the project's virtual environment `.venv` (created here; `$PRM_VENV` picks another).
# Idempotent and fast the second time: it installs only what is missing, and reinstalls the package only when
# pyproject.toml or the extras changed (an editable install picks up source edits by itself).
# Usage: ./scripts/setup.sh [pip extras, e.g. dev,ml; default: none]
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
venv="${PRM_VENV:-.venv}"

need_apt=()
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
# Debian's python3 lacks venv (and ensurepip) until python3-venv is installed.
[ -x "$venv/bin/python" ] || python3 -c "import ensurepip, venv" 2>/dev/null || need_apt+=(python3-venv)
command -v chromium >/dev/null || need_apt+=(chromium chromium-driver)
command -v mkfs.btrfs >/dev/null || need_apt+=(btrfs-progs)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] apt-get install ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
  echo "[setup] starting dockerd (no bridge network: containers get only loopback)"
  setsid nohup dockerd --bridge=none --iptables=false >/tmp/prm-dockerd.log 2>&1 </dev/null &
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || { echo "[setup] dockerd did not start; see /tmp/prm-dockerd.log" >&2; tail -20 /tmp/prm-dockerd.log >&2; exit 1; }
fi

# Copy-on-write sandboxes (prm.sandboxes.cow): a btrfs file system in a sparse file (half the free disk, at most
# 64 GB), loop-mounted where the library looks for it. Forks and snapshots then take milliseconds whatever the
# workspace's size, each workspace has a disk quota, and all of them together cannot fill the host's disk.
# Without it (not root, no btrfs, no loop devices) workspaces are plain directories, copied file by file.
pool=/var/lib/prm-gym/sandboxes
if [ "$(id -u)" = 0 ] && ! mountpoint -q "$pool"; then
  modprobe btrfs 2>/dev/null || true
  image=/var/lib/prm-gym/sandboxes.img
  mkdir -p "$pool"
  if grep -qw btrfs /proc/filesystems && [ ! -f "$image" ]; then
    size_gb=$(( $(df --output=avail -B1G /var/lib | tail -1) / 2 ))
    size_gb=$(( size_gb > 64 ? 64 : size_gb ))
    echo "[setup] making the copy-on-write sandbox pool: ${size_gb} GB btrfs in $image"
    truncate -s "${size_gb}G" "$image"
    mkfs.btrfs -q "$image" >/dev/null 2>&1 || { rm -f "$image"; echo "[setup] mkfs.btrfs failed: forks copy files"; }
  fi
  if [ -f "$image" ]; then
    mount -o loop "$image" "$pool" && echo "[setup] mounted the sandbox pool on $pool" \
      || echo "[setup] could not mount the sandbox pool (no loop devices?): forks copy files"
  else
    echo "[setup] no btrfs in this kernel: sandbox forks copy files"
  fi
fi

# Each sandbox watches its workspace with one inotify instance (changed files come from the host's kernel);
# Debian's default of 128 per user is too few for many envs at once. Best effort: a container may forbid it.
if [ "$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 0)" -lt 8192 ]; then
  sysctl -q -w fs.inotify.max_user_instances=8192 2>/dev/null || echo "[setup] could not raise fs.inotify.max_user_instances (needs root)"
fi

# The system interpreter of a stock Debian refuses pip (PEP 668): everything goes into the project's venv.
# --system-site-packages lets it reuse what the machine already has (e.g. a system-wide torch).
if [ ! -x "$venv/bin/python" ]; then
  echo "[setup] creating the virtual environment $venv"
  python3 -m venv --system-site-packages "$venv"
fi
python="$venv/bin/python"

# torch first and pinned: the machine's CPU build; an unpinned torch would pull GBs of CUDA packages.
if [[ ",$extras," == *",ml,"* ]] && ! "$python" -c "import torch" 2>/dev/null; then
  echo "[setup] pip install torch==2.13.0 (CPU)"
  "$python" -m pip install -q torch==2.13.0
fi

# What was installed is recorded in a stamp: pyproject.toml's hash, the extras, and the checkout's path.
stamp="$venv/.prm-gym-installed"
read -r installed_hash installed_extras installed_checkout 2>/dev/null <"$stamp" || true
# A broader install (e.g. dev,ml from test.sh) also serves a narrower request (none, from demo.sh).
covered=1
for extra in ${extras//,/ }; do [[ ",${installed_extras:-}," == *",$extra,"* ]] || covered=0; done
if [[ "${installed_hash:-}" == "$(sha256sum pyproject.toml | cut -d' ' -f1)" && "${installed_checkout:-}" == "$PWD" && $covered == 1 ]] && "$python" -c "import prm" 2>/dev/null; then
  echo "[setup] prm-gym is installed in $venv (pyproject.toml unchanged): nothing to do"
else
  echo "[setup] pip install -e .${extras:+[$extras]} into $venv"
  "$python" -m pip install -q -e ".${extras:+[$extras]}"
  echo "$(sha256sum pyproject.toml | cut -d' ' -f1) ${extras:-none} $PWD" >"$stamp"
fi

# The dev tools (the `dev` extra: ruff, pytest, ...) go into the venv itself, so that `.venv/bin/ruff` and
# `.venv/bin/pytest` exist: with --system-site-packages, pip counts a system-wide copy as installed and puts no
# command into the venv. Checked on every call (cheap), so a venv set up before this line is repaired too.
if [[ ",$extras," == *",dev,"* ]] && ! [[ -x "$venv/bin/ruff" && -x "$venv/bin/pytest" ]]; then
  mapfile -t dev < <("$python" -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["dev"], sep="\n")')
  echo "[setup] pip install the dev tools into $venv: ${dev[*]}"
  "$python" -m pip install -q --ignore-installed --no-deps "${dev[@]}"
fi
