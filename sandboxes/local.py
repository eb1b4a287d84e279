"""`LocalSandbox`: a temporary directory and subprocesses with rlimits; the fallback without a Docker engine.

Each command runs as `bash -c CMD` in the workspace, in its own session (process group), with
RLIMIT_AS (memory), RLIMIT_NPROC (processes), RLIMIT_FSIZE (file size) and no core dumps. At its timeout
the whole process group is killed; output is capped per stream and the cut is marked (see
`prm.sandboxes.runner`). Snapshots, restores and forks are directory copies, or btrfs snapshots in the
copy-on-write pool (`prm.sandboxes.cow`).

This is weaker isolation than `DockerSandbox`: commands see the host's file system and network, CPU is not
limited, and RLIMIT_NPROC counts all processes of the user (the kernel does not apply it to root).
Use it for trusted code or where no Docker engine is available.

Example:
    >>> from prm.sandboxes.local import LocalSandbox
    >>> with LocalSandbox() as sb:
    ...     sb.write_file("hello.py", "print('hi')")
    ...     sb.exec("python3 hello.py").stdout
    'hi\\n'
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import Self

from prm.errors import SandboxError
from prm.sandboxes.base import ExecResult, SandboxLimits
from prm.sandboxes.runner import run_command
from prm.sandboxes.workspace import HostWorkspace, HostWorkspaceOps, new_root


def check_command(cmd: object, timeout: object) -> None:
    """Raise a typed error for a command that is not a string (or not one a process can take as an argument:
    a NUL byte, a lone surrogate) or a timeout that is not a positive number."""
    if not isinstance(cmd, str):
        raise TypeError(f"command must be a string (run through bash -c), got {type(cmd).__name__}: {cmd!r}")
    if "\0" in cmd:
        raise ValueError("command contains a NUL byte, which no process argument can hold")
    if not cmd.isascii():
        try:
            cmd.encode("utf-8")
        except UnicodeEncodeError as err:
            raise ValueError(f"command is not valid Unicode text ({err.reason})") from None
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0
    ):
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")


class LocalSandbox(HostWorkspaceOps):
    """A sandbox in a host temporary directory. Same constructor as `DockerSandbox` (`image` is ignored).

    Args:
        image: ignored (accepted so that back ends are interchangeable).
        workspace_from: a host directory copied into the workspace at start.
        limits: resource limits; `SandboxLimits()` by default.
        env: extra environment variables for every command.
    """

    def __init__(
        self,
        image: str | None = None,
        *,
        workspace_from: str | Path | None = None,
        limits: SandboxLimits | None = None,
        env: dict[str, str] | None = None,
        _workspace: HostWorkspace | None = None,
    ):
        self.limits = limits or SandboxLimits()
        self.extra_env = dict(env or {})
        self._ws = _workspace or HostWorkspace.create(
            new_root("prm-local-"), seed=workspace_from, quota_mb=self.limits.disk_mb
        )
        self.workspace = str(self._ws.dir)
        tmp = self._ws.root / "tmp"
        tmp.mkdir(exist_ok=True)
        self._env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(tmp),
            "TMPDIR": str(tmp),
            "LANG": "C.UTF-8",
            **self.extra_env,
        }
        mb = 1024 * 1024
        self._rlimits = {
            "RLIMIT_AS": self.limits.memory_mb * mb,
            "RLIMIT_NPROC": self.limits.pids,
            "RLIMIT_FSIZE": self.limits.file_size_mb * mb,
            "RLIMIT_CORE": 0,
        }
        self._closed = False
        self._finalizer = weakref.finalize(self, self._ws.remove)  # a sandbox dropped unclosed leaves nothing

    def exec(self, cmd: str, timeout: float | None = None) -> ExecResult:
        check_command(cmd, timeout)
        self._check_usable()
        result = run_command(
            cmd,
            timeout=timeout or self.limits.default_timeout_s,
            cap=self.limits.output_cap_bytes,
            cwd=self.workspace,
            env=self._env,
            rlimits=self._rlimits,
        )
        return ExecResult(**result)

    def _check_usable(self) -> None:
        if self._closed:
            raise SandboxError("this LocalSandbox is closed")

    def fork(self) -> LocalSandbox:
        clone = self._ws.clone(new_root("prm-local-"))
        return LocalSandbox(limits=self.limits, env=self.extra_env, _workspace=clone)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._finalizer()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
