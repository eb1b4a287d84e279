"""Pick a sandbox back end by name: `open_sandbox("auto" | "docker" | "local", **kwargs)`.

"auto" uses Docker when an engine answers a quick ping and the local back end otherwise, and logs one line
(logger `prm.sandboxes`) saying which. "docker" without an engine raises `SandboxUnavailable`; any other
name raises `UnknownSandboxKind`.

Example:
    >>> from prm.sandboxes import open_sandbox
    >>> with open_sandbox("local") as sb:
    ...     sb.exec("echo ok").stdout
    'ok\\n'
"""

from __future__ import annotations

import functools
import logging

from prm.errors import SandboxUnavailable, UnknownSandboxKind
from prm.sandboxes.base import Sandbox

log = logging.getLogger("prm.sandboxes")

SANDBOX_KINDS = ("auto", "docker", "local")
PING_TIMEOUT_S = 3.0


def docker_engine_problem(timeout: float = PING_TIMEOUT_S) -> str | None:
    """None when a Docker engine answers a ping within `timeout` seconds, else why not (one line)."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except (DockerException, OSError) as exc:
        return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
    return None


@functools.cache
def _notice(message: str) -> None:
    """Logs which back end "auto" chose, once per process and message (not at every episode)."""
    log.warning(message)


def choose_auto() -> str:
    """What "auto" means here: "docker" when an engine answers, else "local" (with a warning, once)."""
    problem = docker_engine_problem()
    if problem is None:
        _notice("sandbox=auto: using Docker (an engine answered)")
        return "docker"
    _notice(
        f"sandbox=auto: using LocalSandbox, weaker isolation: no container, the host's network and files "
        f"are reachable (no Docker engine answers: {problem})"
    )
    return "local"


def open_sandbox(kind: str = "auto", **kwargs) -> Sandbox:
    """Open a sandbox of back end `kind`; kwargs go to its constructor (`image`, `workspace_from`, `limits`, `env`)."""
    if kind not in SANDBOX_KINDS:
        raise UnknownSandboxKind(f"unknown sandbox kind {kind!r}; choose one of {', '.join(SANDBOX_KINDS)}")
    if kind == "auto":
        kind = choose_auto()
    if kind == "docker":
        problem = docker_engine_problem()
        if problem is not None:
            raise SandboxUnavailable(
                f"sandbox='docker' was requested but no Docker engine answers ({problem}); start dockerd "
                "(e.g. `dockerd --bridge=none --iptables=false`), check DOCKER_HOST, or use sandbox='local'"
            )
        from prm.sandboxes.docker import DockerSandbox

        return DockerSandbox(**kwargs)
    from prm.sandboxes.local import LocalSandbox

    return LocalSandbox(**kwargs)
