"""The `Sandbox` protocol: where an agent's commands run and its files live.

Paths given to file operations are relative to the sandbox's workspace (absolute paths must lie inside it);
a path that escapes raises `PathEscapeError`. `exec` never raises for the command's own failure: a non-zero
exit, a timeout or capped output is reported in the `ExecResult`. A `SandboxError` means the sandbox itself
failed (an infrastructure failure).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Self, runtime_checkable

from pydantic import BaseModel, Field


@dataclass(frozen=True)
class ExecResult:
    """The result of one command. `timed_out`: killed at its timeout; `output_truncated`: output was capped.

    `outside_writes`: paths outside the workspace that were created or changed while the command ran, as the
    sandbox saw them (not from anything the command printed); None when the back end cannot tell
    (`LocalSandbox`).
    """

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    output_truncated: bool = False
    outside_writes: tuple[str, ...] | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class SandboxLimits(BaseModel):
    """Resource limits every back end enforces (Docker through cgroups, local through rlimits)."""

    memory_mb: int = Field(default=2048, ge=64)
    cpus: float = Field(default=1.0, gt=0)
    pids: int = Field(default=256, ge=16)
    output_cap_bytes: int = Field(
        default=1_000_000, ge=1024, description="per stream; the rest is cut and marked"
    )
    file_size_mb: int = Field(
        default=1024, ge=1, description="largest file a command may write (RLIMIT_FSIZE)"
    )
    disk_mb: int = Field(
        default=1024,
        ge=16,
        description="most the workspace may write, its seed included (blocks shared with the sandbox it was "
        "forked from are not counted): a btrfs quota where the sandbox directory is copy-on-write "
        "(prm.sandboxes.cow), else not enforced",
    )
    default_timeout_s: float = Field(default=60.0, gt=0)


@runtime_checkable
class Sandbox(Protocol):
    """What every sandbox back end offers. Use it as a context manager so it is always closed."""

    workspace: str
    """Absolute path of the workspace inside the sandbox; relative paths and `exec`'s cwd start here."""

    def exec(self, cmd: str, timeout: float | None = None) -> ExecResult: ...

    def read_file(self, path: str) -> bytes: ...

    def write_file(self, path: str, data: bytes | str) -> None: ...

    def list_dir(self, path: str = ".") -> list[str]: ...

    def watch_changes(self) -> None:
        """Start noting changed workspace files, from a source no command can write (the host's kernel)."""

    def drain_changes(self) -> list[str]:
        """Workspace files created, written, deleted or renamed since `watch_changes()` or the last call."""

    def diff_against(self, baseline: Path, skip_dirs: frozenset[str] = frozenset()) -> object:
        """The workspace's regular files that differ from the trusted host tree `baseline` (for graders)."""

    def snapshot(self) -> object: ...

    def restore(self, snapshot: object) -> None: ...

    def fork(self) -> Sandbox: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...
