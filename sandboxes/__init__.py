"""Sandboxes: where agents' commands run. See `prm.sandboxes.base.Sandbox` for the protocol.

Back ends: `DockerSandbox` (isolated container, the default where an engine answers) and `LocalSandbox`
(a temporary directory with rlimits). `open_sandbox(kind)` picks one; `build_image` makes images offline.
"""

from prm.sandboxes.base import ExecResult, Sandbox, SandboxLimits
from prm.sandboxes.docker import DockerSandbox
from prm.sandboxes.images import build_base_image, build_image
from prm.sandboxes.local import LocalSandbox
from prm.sandboxes.select import open_sandbox
from prm.sandboxes.workspace import WorkspaceSnapshot

__all__ = [
    "DockerSandbox",
    "ExecResult",
    "LocalSandbox",
    "Sandbox",
    "SandboxLimits",
    "WorkspaceSnapshot",
    "build_base_image",
    "build_image",
    "open_sandbox",
]
