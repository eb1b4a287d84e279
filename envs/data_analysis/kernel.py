"""`Kernel`: the host's handle on a persistent Python process inside a `DockerSandbox` (a notebook kernel).

The kernel (`prm.envs.data_analysis.kernel_server`) is started by one `docker exec`, then talks to the host
over a Unix socket in the sandbox's `sockets_dir` (`DockerSandbox(sockets=True)`), beside dockerd's stream
proxy: a cell costs one JSON round trip between two processes (tens of microseconds), no process start. It runs
as its own user (drawn from `KERNEL_UIDS` at every start, never the sandbox helper's uid 1000 nor another
sandbox's or an earlier kernel's), so code in the kernel cannot signal the sandbox's command helper: an agent's
`os.kill(-1, 9)` kills only its own processes, never the sandbox, and a fork bomb in one episode cannot use up
another's process limit.

The channel: before each start the host listens on a fresh socket (a random name in a directory the container
sees read-only and cannot list, mode 0600, owned by the new kernel's uid: the sandbox's commands (uid 1000) and
other kernels cannot connect) and sends its path and a fresh secret in the bootstrap, on the exec's stdin. The
host accepts connections until one presents the secret (others are closed), then closes and removes the
listening socket: one channel per kernel, nothing left to connect to. Replies are untrusted: a reply that is
not a JSON object, is over its size cap, or never comes is `KernelDied` (a restart); the channel's end (the
kernel died) is seen as the socket's end of file.

What happens to a cell:
- it raises: the traceback is the output, `error` names the exception, the kernel keeps its state;
- it runs past its timeout: it gets a `KeyboardInterrupt` (state kept, `interrupted`); if it does not come back
  within `GRACE_S`, every process of the kernel's user is killed and a fresh kernel started (`restarted`,
  variables lost);
- it kills the kernel (`os._exit`, a segfault, the OOM killer) or garbles, floods or closes the channel: a
  fresh kernel is started (`restarted`) and the observation says so. All of these are the agent's doing, never an
  infrastructure error; only a sandbox that cannot start a kernel at all raises `SandboxError`.

Example:
    >>> from prm.sandboxes.docker import DockerSandbox  # doctest: +SKIP
    >>> with DockerSandbox(image, sockets=True) as sandbox, Kernel(sandbox) as kernel:  # doctest: +SKIP
    ...     kernel.run("x = 6 * 7")
    ...     kernel.run("x").output
    '42\\n'
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import secrets
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import docker
from docker.errors import DockerException

from prm.errors import SandboxError
from prm.sandboxes.docker import SOCKETS, DockerSandbox

from . import kernel_server

KERNEL_UIDS = range(200_000, 2_000_000)
"""Each kernel (each start) runs as a user drawn from here: not the sandbox helper's (1000), so the agent cannot
kill the helper, and not shared with other sandboxes or earlier kernels, so its process limit (counted per user
by the host kernel), its `kill(-1)` and its socket reach only its own processes."""
GRACE_S = 3.0
"""How long past its timeout a cell may take to answer the interrupt before the kernel is restarted."""
START_TIMEOUT_S = 60.0
MAX_PROCESSES = 64
"""RLIMIT_NPROC of the kernel's user (its own): a fork bomb stops here, below the container's pids limit."""
HELLO_TIMEOUT_S = 10.0
"""How long a connection to the listening socket may take to present the secret before it is dropped."""
REPLY_SLACK = 1 << 20
"""A reply line may exceed the output cap by this much (JSON escaping) before it counts as corrupt."""
BOOTSTRAP = (
    "import sys, json; source = json.loads(sys.stdin.readline()); exec(source.pop('code')); serve(**source)"
)
SERVER_SOURCE = inspect.getsource(kernel_server)
THREAD_ENV = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


@dataclass(frozen=True)
class CellResult:
    """What one cell did. `restarted`: the kernel died or hung and a fresh one (no variables) took its place."""

    output: str
    error: str | None = None
    truncated: bool = False
    omitted: int = 0
    interrupted: bool = False
    restarted: bool = False
    restart_reason: str = ""
    duration_s: float = 0.0


class KernelDied(Exception):
    """The kernel process ended or broke the protocol (the agent's doing; the caller restarts it)."""


class _Channel:
    """A connected socket to the kernel: JSON lines both ways, replies untrusted."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.lines = bytearray()

    def send(self, message: Any) -> None:
        self.sock.settimeout(10)
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def reply(self, deadline: float, max_bytes: int) -> dict:
        """The next JSON object line; `TimeoutError` at the deadline, `KernelDied` for anything else."""
        while b"\n" not in self.lines:
            if len(self.lines) > max_bytes:
                raise KernelDied(
                    f"the kernel's reply channel was flooded ({len(self.lines)} bytes, no reply)"
                )
            self._receive(deadline)
        line, _, rest = bytes(self.lines).partition(b"\n")
        self.lines = bytearray(rest)
        try:
            reply = json.loads(line)
        except ValueError as err:
            raise KernelDied(f"the kernel's reply channel was corrupted: {err}") from err
        if not isinstance(reply, dict):
            raise KernelDied("the kernel's reply channel was corrupted: not a JSON object")
        return reply

    def _receive(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            raise
        except OSError as err:
            raise KernelDied(f"the kernel's channel broke: {err}") from err
        if not data:
            raise KernelDied("the kernel's channel closed (the kernel exited or closed it)")
        self.lines += data

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


@contextlib.contextmanager
def listening(sockets_dir: Path, uid: int) -> Iterator[tuple[socket.socket, str]]:
    """A Unix socket listening in `sockets_dir` (a sandbox's, seen inside as `SOCKETS`) under a random name,
    connectable only by `uid` (its owner, mode 0600); yields it and its name, and removes it on exit."""
    name = f"kernel-{secrets.token_hex(16)}.sock"
    path = sockets_dir / name
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
        # Linux creates the socket file with the socket's mode: never open to all, not even briefly
        os.fchmod(listener.fileno(), 0o600)
        try:
            listener.bind(str(path))
            os.chown(path, uid, uid)
            listener.listen()
            yield listener, name
        finally:
            path.unlink(missing_ok=True)


def accept_kernel(
    listener: socket.socket, secret: str, deadline: float, bootstrap: socket.socket
) -> tuple[_Channel, dict]:
    """The first connection to `listener` that presents `secret`, and its hello line (`{"secret", "pid"}`);
    every other connection is closed. `KernelDied` when `bootstrap` (the starting kernel's exec) ends first,
    `TimeoutError` at the deadline."""
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([listener, bootstrap], [], [], remaining)
        if bootstrap in readable and not bootstrap.recv(1 << 16):  # its own output (a traceback) is dropped
            raise KernelDied("the kernel process exited before it connected")
        if listener in readable:
            channel = _Channel(listener.accept()[0])
            try:
                hello = channel.reply(min(deadline, time.monotonic() + HELLO_TIMEOUT_S), 1024)
            except (TimeoutError, KernelDied):
                hello = {}
            if secrets.compare_digest(str(hello.get("secret")).encode(), secret.encode()):
                return channel, hello
            channel.close()
    raise TimeoutError("the kernel did not connect to its socket")


class Kernel:
    """A persistent Python kernel in `sandbox` (a started `DockerSandbox`); `close()` ends it.

    Args:
        sandbox: the sandbox whose container runs the kernel.
        cap: output bytes kept per cell (the rest is counted and the cut marked).
        memory_mb: the kernel's address-space limit (default: the sandbox's memory limit).
    """

    def __init__(self, sandbox: DockerSandbox, *, cap: int = 20_000, memory_mb: int | None = None):
        if (
            not isinstance(sandbox, DockerSandbox)
            or sandbox.container_id is None
            or sandbox.sockets_dir is None
        ):
            raise SandboxError("the Python kernel needs a started DockerSandbox(sockets=True)")
        self.sandbox = sandbox
        self.cap = cap
        self.memory_mb = memory_mb or sandbox.limits.memory_mb
        self.uid: int | None = None
        """The kernel's user (a new one at every start)."""
        self.cells: list[str] = []
        """The cells that ran to completion in the current kernel (what `replay` re-runs in a fork)."""
        self.pid: int | None = None
        self._channel: _Channel | None = None
        self._broken: str | None = None
        try:
            self._client = docker.from_env(timeout=60)
        except DockerException as err:
            raise SandboxError(f"the Python kernel needs the Docker engine: {err}") from err
        self.start_seconds = self._start()

    def _start(self) -> float:
        """Starts a fresh kernel as a fresh user, connected to a fresh socket (see the module docstring);
        returns how long it took. `SandboxError` when the sandbox cannot run one."""
        started = time.monotonic()
        self.cells = []
        self.uid = KERNEL_UIDS[secrets.randbelow(len(KERNEL_UIDS))]
        secret = secrets.token_hex(32)
        try:
            with listening(self.sandbox.sockets_dir, self.uid) as (listener, name):
                bootstrap = self._exec_bootstrap()
                with contextlib.closing(
                    bootstrap
                ):  # the exec's stream is needed only until the kernel connects
                    source = {"code": SERVER_SOURCE, "channel_path": f"{SOCKETS}/{name}", "secret": secret}
                    source |= {"memory_bytes": self.memory_mb << 20, "max_processes": MAX_PROCESSES}
                    bootstrap.sendall(json.dumps(source).encode() + b"\n")
                    deadline = time.monotonic() + START_TIMEOUT_S
                    self._channel, hello = accept_kernel(listener, secret, deadline, bootstrap)
            self.pid = int(hello["pid"])
        except (DockerException, OSError, KernelDied, TimeoutError, KeyError, TypeError, ValueError) as err:
            raise SandboxError(f"the Python kernel did not start in the sandbox: {err!r}") from err
        return time.monotonic() - started

    def _exec_bootstrap(self) -> socket.socket:
        """Starts `python3 -c BOOTSTRAP` as the kernel's user; returns the exec's attach socket (its stdin; its
        end of file: the process exited)."""
        exec_id = self._client.api.exec_create(
            self.sandbox.container_id,
            ["python3", "-u", "-c", BOOTSTRAP],
            stdin=True,
            user=f"{self.uid}:{self.uid}",
            workdir=self.sandbox.workspace,
            environment={"HOME": "/tmp", "LANG": "C.UTF-8", "MPLBACKEND": "Agg", **THREAD_ENV},
        )["Id"]
        attached = self._client.api.exec_start(exec_id, socket=True)
        sock = getattr(attached, "_sock", attached)
        sock.settimeout(10)
        return sock

    def run(self, code: str, timeout: float = 30.0) -> CellResult:
        """Runs one cell (see the module docstring for errors, timeouts and restarts)."""
        started = time.monotonic()
        if self._broken is not None:  # said in this cell's observation, not lost silently
            reason, self._broken = self._broken, None
            return self._restarted(f"{reason}; this cell did not run", started)
        request = {"op": "run", "code": code, "timeout": timeout, "cap": self.cap}
        try:
            self._channel.send(request)
            reply = self._channel.reply(time.monotonic() + timeout + GRACE_S, self.cap * 6 + REPLY_SLACK)
            result = CellResult(
                output=str(reply["output"]),
                error=reply["error"] if isinstance(reply["error"], str) else None,
                truncated=bool(reply["truncated"]),
                omitted=int(reply["omitted"]),
                interrupted=bool(reply["interrupted"]),
                duration_s=time.monotonic() - started,
            )
        except TimeoutError:
            return self._restarted(f"the cell ignored the interrupt at its {timeout:g} s timeout", started)
        except (KernelDied, OSError, KeyError, TypeError, ValueError) as err:
            return self._restarted(str(err), started)
        if not result.interrupted:
            self.cells.append(code)
        return result

    def _restarted(self, reason: str, started: float) -> CellResult:
        self.restart()
        return CellResult(
            output="",
            error=reason,
            restarted=True,
            restart_reason=reason,
            duration_s=time.monotonic() - started,
        )

    def restart(self) -> None:
        """Kills every process of the kernel's user (the kernel and anything it started) and starts a new one."""
        self._end()
        self._start()

    def replay(self, cells: list[str], timeout: float) -> list[CellResult]:
        """Re-runs recorded cells in order (how a fork rebuilds the kernel's variables)."""
        return [self.run(code, timeout) for code in cells]

    def probe(self, limit: int = 2000, timeout: float = 30.0) -> list[Any]:
        """Scalar values held by the kernel's variables, listed by a fork of the kernel (state untouched).
        The list comes from the agent's process: treat it as untrusted (a reward signal, never a grade). A
        kernel that does not answer gives `[]` and is restarted at the next `run`, which says so."""
        try:
            self._channel.send({"op": "probe", "limit": limit})
            values = self._channel.reply(time.monotonic() + timeout, REPLY_SLACK + limit * 100).get("values")
        except (TimeoutError, KernelDied, OSError) as err:
            self._broken = f"the kernel stopped answering a probe ({err})"
            return []
        return values[:limit] if isinstance(values, list) else []

    def _end(self) -> None:
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        with contextlib.suppress(DockerException, OSError):
            for _ in range(3):  # a fork bomb may have children in flight during the first sweep
                exec_id = self._client.api.exec_create(
                    self.sandbox.container_id,
                    ["/bin/bash", "-c", "kill -9 -1"],
                    user=f"{self.uid}:{self.uid}",
                )["Id"]
                self._client.api.exec_start(exec_id)

    def close(self) -> None:
        self._end()
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
