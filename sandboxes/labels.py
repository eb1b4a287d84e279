"""Who owns a sandbox: labels on its container and a note in its host directory, read by `prm clean`.

A sandbox records the process that made it (host name, pid and that pid's start time, so that a reused pid
does not count as the owner). An owner that is no longer running left the sandbox behind (it was killed
before it could close it); `prm clean` removes such sandboxes (`left_behind_containers`,
`left_behind_dirs`) and nothing else.

Example:
    >>> labels = owner_labels()
    >>> labels["prm.sandbox"], owner_alive(labels)
    ('1', True)
"""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

import docker
from docker.errors import DockerException
from docker.models.containers import Container

from prm.sandboxes.cow import remove_root, sandbox_parent

SANDBOX_LABEL = "prm.sandbox"
OWNER_FILE = "owner"
"""The file in a sandbox's host directory holding its owner's labels (`key=value` lines)."""


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat), None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()[19]


def owner_labels() -> dict[str, str]:
    """The labels naming this process as the owner of a new sandbox."""
    pid = os.getpid()
    return {
        SANDBOX_LABEL: "1",
        "prm.owner.host": socket.gethostname(),
        "prm.owner.pid": str(pid),
        "prm.owner.start": _start_time(pid) or "",
    }


def owner_alive(labels: dict[str, str]) -> bool:
    """True unless the labels name an owner on this host that is no longer running.

    Sandboxes of another host, or without owner labels (made before they existed), count as alive: only
    what is known to be left behind is ever removed."""
    if labels.get("prm.owner.host") != socket.gethostname() or not labels.get("prm.owner.pid", "").isdigit():
        return True
    return _start_time(int(labels["prm.owner.pid"])) == labels.get("prm.owner.start")


def write_owner_file(root: Path) -> None:
    (root / OWNER_FILE).write_text("".join(f"{k}={v}\n" for k, v in owner_labels().items()))


def read_owner_file(root: Path) -> dict[str, str]:
    """The owner labels of a sandbox directory ({} when it has none)."""
    try:
        text = (root / OWNER_FILE).read_text()
    except OSError:
        return {}
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def left_behind_containers(client: docker.DockerClient) -> list[Container]:
    """Sandbox containers (running or not) whose owner process on this host is no longer running."""
    found = client.containers.list(all=True, filters={"label": SANDBOX_LABEL}, ignore_removed=True)
    return [container for container in found if not owner_alive(container.labels)]


def left_behind_dirs() -> list[Path]:
    """Sandbox host directories (in the temporary directory and the sandbox directory) whose owner is gone."""
    parents = {Path(tempfile.gettempdir())}
    if (chosen := sandbox_parent()) is not None:
        parents.add(chosen)
    found = []
    for parent in parents:
        for root in sorted(parent.glob("prm-*-*")):
            labels = read_owner_file(root)
            if labels and root.is_dir() and not root.is_symlink() and not owner_alive(labels):
                found.append(root)
    return found


def remove_sandboxes_of(pid: int, timeout_s: float = 60.0) -> list[str]:
    """Remove the containers and host directories that the dead process `pid` of this host left behind (the
    rollouts' clean-up after a worker was killed); their names. Waits up to `timeout_s` for `pid` to be gone
    (a killed process may still be reaped); nothing of a live owner is ever removed."""
    deadline = time.monotonic() + timeout_s
    while _start_time(pid) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    removed = []
    try:
        client = docker.from_env()
        try:
            for container in left_behind_containers(client):
                if container.labels.get("prm.owner.pid") == str(pid):
                    container.remove(force=True)
                    removed.append(container.name)
        finally:
            client.close()
    except DockerException:  # no engine answers here: the process had no containers
        pass
    for root in left_behind_dirs():
        if read_owner_file(root).get("prm.owner.pid") == str(pid):
            remove_root(root)
            removed.append(str(root))
    return removed
