"""Typed errors of prm-gym. Every error a user can cause has its own class and a message that says what to fix."""

from __future__ import annotations


class PrmError(Exception):
    """Base class of every error prm-gym raises on purpose."""


class ScenarioError(PrmError):
    """A scenario file is missing, malformed or inconsistent. Names the file, the field and the reason."""

    def __init__(self, file: str, field: str, reason: str):
        self.file, self.field, self.reason = str(file), field, reason
        super().__init__(f"{self.file}: field '{field}': {reason}")


class TrajectoryError(PrmError):
    """A trajectory file cannot be read: names the file, the line and the reason."""


class SandboxError(PrmError):
    """A sandbox failed for a reason outside the agent's control (an infrastructure failure)."""


class SandboxUnavailable(SandboxError):
    """The requested sandbox back end cannot run here (e.g. no Docker engine answers)."""


class UnknownSandboxKind(PrmError, ValueError):
    """`sandbox=` named a back end that does not exist."""


class PathEscapeError(PrmError, ValueError):
    """A path given to a sandbox file operation leaves the sandbox's workspace."""


class ImageBuildError(SandboxError):
    """Building a sandbox image failed (debootstrap, wheel download or `docker import`)."""


class RewardSpecError(PrmError, ValueError):
    """A reward specification names an unknown signal or parameter, or does not fit the environment."""


class SandboxKilledFromInside(PrmError):
    """The sandbox died of what its commands did (e.g. killed for memory): the agent's doing, not an
    infrastructure failure. Environments end the episode, grade it, and flag it `agent_killed_sandbox`."""


class UnsafeFileError(PrmError, ValueError):
    """A sandbox file operation was refused: not a regular file (a FIFO, socket, device) or too large."""
