"""`DockerSandbox`: an isolated container on the docker SDK, with a fast command channel.

The container has no network (`network_mode="none"`), memory, CPU and pids limits, `no-new-privileges`, a
read-only root file system with a private tmpfs `/tmp`, and sees the workspace as `/workspace`: a host
directory bind-mounted read-write, with a disk quota in the copy-on-write pool. Writes anywhere else fail.
Every command runs as uid 1000 with no capability at all.

Commands do not go through `docker exec` (tens of milliseconds each). The container's main process is a
small helper (`prm.sandboxes.runner`, whose source is sent in over stdin, so the image needs only python3)
attached through one persistent socket: each `exec` writes one JSON request and reads one JSON reply, so a
round trip costs well under a millisecond plus the command itself. The helper runs each command with
`setsid`, kills its whole process group at the timeout (the sandbox stays usable), caps output per stream
and marks the cut. The helper is out of the commands' reach: it runs as root with only the capabilities it
needs (switch users, signal, read every file of the container) and starts each command as uid 1000, so no
command can kill it, write into its channel or read its requests; it also reports the writes a command made
outside the workspace (`ExecResult.outside_writes`).

A container that dies while a command runs (e.g. killed for memory) raises `SandboxKilledFromInside`, the
agent's doing, not an infrastructure failure; one that dies otherwise raises `SandboxError`. Containers are
labelled `prm.sandbox=1` with the owning process (`prm.owner.pid`, `prm.owner.host`), so that `prm clean`
can remove those a killed process left.

Because the workspace lives on the host, file operations, `snapshot()`, `restore()` and `fork()` are host
file operations: a fork gives a new container of the same image a copy of the workspace (a btrfs snapshot
in milliseconds in the copy-on-write pool, see `prm.sandboxes.cow`; else a file-by-file copy). After the
first fork (or `prestart_fork()`), a spare container per configuration is kept started in the background,
so later forks cost only the copy (`close_spares()` removes the spares; they also go when the last sandbox
of their configuration that forked is closed or collected, and at interpreter exit).
Snapshots cover the workspace (the only persistent writable place; `/tmp` is scratch).

With `sockets=True` the container also sees `SOCKETS` (`/run/prm-sockets`): a private host directory
(`sockets_dir`, root's, mode 0711, mounted read-only) where host code can listen on a Unix socket for one
chosen process of the sandbox, bypassing dockerd's stream proxy. Nothing in the container can create, list or
remove entries there; a socket is reachable only by the uid the host gives it (mode 0600).

Every call has an explicit timeout. If the container dies or the helper stops answering, the call raises
`SandboxError` (an infrastructure failure) and every later call does too.

Example:
    >>> from prm.sandboxes.docker import DockerSandbox
    >>> with DockerSandbox() as sb:  # the base image; built on first use (a few minutes)
    ...     sb.write_file("x.py", "print(6 * 7)")
    ...     sb.exec("python3 x.py").stdout
    '42\\n'
"""

from __future__ import annotations

import contextlib
import inspect
import json
import socket
import struct
import threading
import time
import weakref
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Self

import docker
from docker.errors import DockerException, ImageNotFound
from docker.types import LogConfig, Mount, Ulimit

from prm.errors import SandboxError, SandboxKilledFromInside, SandboxUnavailable
from prm.sandboxes import runner
from prm.sandboxes.base import ExecResult, SandboxLimits
from prm.sandboxes.images import AGENT_UID, build_base_image
from prm.sandboxes.labels import owner_labels
from prm.sandboxes.local import check_command
from prm.sandboxes.workspace import HostWorkspace, HostWorkspaceOps, new_root

WORKSPACE = "/workspace"
SOCKETS = "/run/prm-sockets"
API_TIMEOUT_S = 120.0
"""Timeout of every docker API call."""
START_TIMEOUT_S = 120.0
"""How long a new container's helper may take to say it is ready (generous: a loaded CI machine starts slowly)."""
REPLY_MARGIN_S = 2 * runner.GROUP_GONE_TIMEOUT_S + 15.0
"""How long past a command's own timeout the helper may take to answer before the sandbox counts as dead:
more than it may spend freeing a full process table before the command and killing what the command left
after it (`runner.GROUP_GONE_TIMEOUT_S` each), so a fork bomb is the command's failure, never a dead sandbox."""
SEND_TIMEOUT_S = 10.0
"""How long writing one request to the helper may take."""
TMPFS_MAX_MB = 512
"""The most `/tmp` and `/dev/shm` may hold; each gets at most a quarter of the memory limit (their pages count
against it and cannot be reclaimed), so the agent's files alone never leave the helper without memory."""
TMPFS_INODES = 65_536
"""Entries `/tmp` may hold: bounds the kernel memory they cost and the helper's scan for outside writes."""
HELPER_CAPABILITIES = ["SETUID", "SETGID", "KILL", "DAC_READ_SEARCH"]
"""What the root helper keeps: start commands as the sandbox user, kill their processes, list all of /tmp.
Commands get none of them (a uid change from root clears every capability)."""
RUNNER_SOURCE = inspect.getsource(runner)
BOOTSTRAP = "import sys, json; exec(json.loads(sys.stdin.buffer.readline()))"
"""The container's main process: reads the helper's source as the first JSON line on stdin and runs it."""


def _cleanup(client: docker.DockerClient, container_id: str | None, ws: HostWorkspace) -> None:
    if container_id is not None:
        with contextlib.suppress(DockerException):
            client.api.remove_container(container_id, force=True)
    ws.remove()
    client.close()


class _Channel:
    """The attach socket of the helper: JSON lines out on stdin, docker's multiplexed frames back."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()
        self.stdout = bytearray()
        self.stderr = bytearray()

    def send(self, message: object) -> None:
        self.sock.settimeout(SEND_TIMEOUT_S)
        self.sock.sendall(json.dumps(message).encode() + b"\n")

    def receive(self, deadline: float) -> dict:
        """The next JSON line from the helper's stdout; raises TimeoutError or EOFError."""
        scanned = 0
        while (newline := self.stdout.find(b"\n", scanned)) < 0:
            scanned = len(self.stdout)
            self._read_frames(deadline)
        line = bytes(self.stdout[:newline])
        del self.stdout[: newline + 1]
        return json.loads(line)

    def _read_frames(self, deadline: float) -> None:
        """Receive data and move every complete frame's payload to `stdout` or `stderr`."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            raise
        except OSError as exc:
            raise EOFError(str(exc)) from exc
        if not data:
            raise EOFError("the helper's stream closed")
        self.buf += data
        start = 0
        while len(self.buf) - start >= 8:
            stream, size = self.buf[start], struct.unpack_from(">L", self.buf, start + 4)[0]
            if len(self.buf) - start < 8 + size:
                break
            payload = self.buf[start + 8 : start + 8 + size]
            if stream == 2:
                self.stderr = (self.stderr + payload)[-4000:]
            else:
                self.stdout += payload
            start += 8 + size
        del self.buf[:start]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class _Spares:
    """Fresh sandboxes started in the background per (image, limits, env), for fast forks: as many as the
    configuration's sandboxes last asked for (`prestart_fork(spares=...)`, one by default).

    Holds spares for the `MAX_KEYS` most recently forked configurations; older spares are closed. A spare
    lives only while a sandbox of its configuration that forks (`use`) is open: when the last one is closed
    or garbage-collected (`release`), its spares are closed too, so a process that closes its envs leaves no
    container behind even if it never reaches the interpreter's exit handlers (a vector-env worker).
    """

    MAX_KEYS = 4

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple, list[Future]] = {}
        self._wanted: dict[tuple, int] = {}
        self._users: dict[tuple, int] = {}
        self._executor = ThreadPoolExecutor(2, thread_name_prefix="prm-spare")

    def take(self, key: tuple) -> DockerSandbox | None:
        """A ready spare for `key`, or None when none is ready yet (those still starting stay pending)."""
        with self._lock:
            futures = self._pending.get(key, [])
            future = next((f for f in futures if f.done() and f.exception() is None), None)
            if future is None:
                return None
            futures.remove(future)
        return future.result()

    def ensure(self, key: tuple, start: Callable[[], DockerSandbox], wait: bool, count: int | None) -> None:
        """Keep `count` spares of `key` started or starting (the last count asked for when None)."""
        with self._lock:
            if count is not None:
                self._wanted[key] = count
            futures = [f for f in self._pending.pop(key, []) if not (f.done() and f.exception() is not None)]
            while len(futures) < self._wanted.get(key, 1):
                futures.append(self._executor.submit(start))
            self._pending[key] = futures
            while len(self._pending) > self.MAX_KEYS:
                _close_spares(self._pending.pop(next(iter(self._pending))), wait=False)
        if wait:
            for future in futures:
                future.exception()

    def use(self, key: tuple) -> None:
        """A sandbox of configuration `key` may fork: keep its spares until it is `release`d."""
        with self._lock:
            self._users[key] = self._users.get(key, 0) + 1

    def release(self, key: tuple) -> None:
        """A sandbox that `use`d `key` is gone; the last one takes the spares of `key` with it."""
        with self._lock:
            self._users[key] -= 1
            if self._users[key] > 0:
                return
            del self._users[key]
            self._wanted.pop(key, None)
            futures = self._pending.pop(key, [])
        # waits: the process may exit right after (no thread would close them)
        _close_spares(futures, wait=True)

    def close_all(self) -> None:
        """Close every spare (they are also removed when the interpreter exits)."""
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        for futures in pending:
            _close_spares(futures, wait=True)


def _close_spares(futures: list[Future], wait: bool) -> None:
    """Close these spares once started (those not started yet are cancelled); with `wait`, before returning."""
    for future in futures:
        future.cancel()
        future.add_done_callback(_close_spare)
        if wait and not future.cancelled():
            future.exception()


def _close_spare(future: Future) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


_SPARES = _Spares()
close_spares = _SPARES.close_all


class DockerSandbox(HostWorkspaceOps):
    """A sandbox in a fresh container of `image` (the base image by default), closed with `close()`.

    Args:
        image: a local image tag (see `prm.sandboxes.images.build_image`); the base image when None.
        workspace_from: a host directory copied into `/workspace` at start.
        limits: resource limits; `SandboxLimits()` by default.
        env: extra environment variables for every command.
        sockets: mount a private host directory for Unix sockets at `SOCKETS` (see the module docstring).
    """

    def __init__(
        self,
        image: str | None = None,
        *,
        workspace_from: str | Path | None = None,
        limits: SandboxLimits | None = None,
        env: dict[str, str] | None = None,
        sockets: bool = False,
        _workspace: HostWorkspace | None = None,
    ):
        self.limits = limits or SandboxLimits()
        self.extra_env = dict(env or {})
        self.workspace = WORKSPACE
        try:
            self._client = docker.from_env(timeout=API_TIMEOUT_S)
        except DockerException as exc:
            raise SandboxUnavailable(f"DockerSandbox needs a Docker engine, and none answers: {exc}") from exc
        self.image = image or build_base_image()
        try:
            self._client.images.get(self.image)
        except ImageNotFound as exc:
            self._client.close()
            raise SandboxError(
                f"image {self.image!r} does not exist; build it with prm.sandboxes.images.build_image() "
                "or `prm image build`"
            ) from exc
        owner = (AGENT_UID, AGENT_UID)
        self._ws = _workspace or HostWorkspace.create(
            new_root("prm-docker-"),
            visible_root=WORKSPACE,
            seed=workspace_from,
            owner=owner,
            quota_mb=self.limits.disk_mb,
            mounted=True,
        )
        self.sockets_dir: Path | None = None
        """The host side of `SOCKETS` when started with `sockets=True`, else None."""
        if sockets:
            self.sockets_dir = self._ws.root / "sockets"
            self.sockets_dir.mkdir()
            self.sockets_dir.chmod(0o711)  # whatever the umask: traversable, not listable
        self._lock = threading.Lock()
        self._broken: str | None = None
        self._killed_from_inside = False
        self._next_id = 0
        self._spare_release: weakref.finalize | None = None
        self._container = None
        self._channel: _Channel | None = None
        self._finalizer = weakref.finalize(self, _cleanup, self._client, None, self._ws)
        self._start()

    def _start(self) -> None:
        mb = 1024 * 1024
        scratch_mb = min(TMPFS_MAX_MB, self.limits.memory_mb // 4)
        environment = {"HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **self.extra_env}
        mounts = [self._workspace_mount()]
        if self.sockets_dir is not None:
            mounts.append(Mount(SOCKETS, str(self.sockets_dir), type="bind", read_only=True))
        try:
            self._container = self._client.containers.create(
                self.image,
                command=["python3", "-u", "-c", BOOTSTRAP],
                user="0:0",
                working_dir=WORKSPACE,
                environment=environment,
                network_mode="none",
                mem_limit=f"{self.limits.memory_mb}m",
                memswap_limit=f"{self.limits.memory_mb}m",
                nano_cpus=int(self.limits.cpus * 1e9),
                pids_limit=self.limits.pids,
                cap_drop=["ALL"],
                cap_add=HELPER_CAPABILITIES,
                security_opt=["no-new-privileges"],
                read_only=True,
                tmpfs={"/tmp": f"rw,nosuid,nodev,size={scratch_mb}m,nr_inodes={TMPFS_INODES},mode=1777"},
                shm_size=f"{scratch_mb}m",
                mounts=mounts,
                ulimits=[
                    Ulimit(
                        name="fsize", soft=self.limits.file_size_mb * mb, hard=self.limits.file_size_mb * mb
                    ),
                    Ulimit(name="core", soft=0, hard=0),
                ],
                init=True,
                stdin_open=True,
                log_config=LogConfig(type="none"),
                labels=owner_labels(),
            )
            self._finalizer.detach()
            self._finalizer = weakref.finalize(self, _cleanup, self._client, self._container.id, self._ws)
            sock = self._container.attach_socket(params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
            self._channel = _Channel(getattr(sock, "_sock", sock))
            self._container.start()
            self._ws.attach()
            self._channel.send(RUNNER_SOURCE)
        except (DockerException, OSError, SandboxError) as exc:
            self.close()
            raise SandboxError(f"starting a container from {self.image!r} failed: {exc}") from exc
        try:
            self._channel.receive(time.monotonic() + START_TIMEOUT_S)
        except (TimeoutError, EOFError, ValueError) as exc:
            what = f"the sandbox helper did not start in {self.image!r} (it needs python3 on PATH; {type(exc).__name__})"
            reason = self._why_dead(what)
            self.close()
            raise SandboxError(reason) from exc

    def _workspace_mount(self) -> Mount:
        """The workspace's bind mount; with slave propagation when the host mounts the workspace into it later
        (copy-on-write workspaces, swapped on restore and fork)."""
        propagation = "rslave" if self._ws.mounted_later else None
        return Mount(WORKSPACE, str(self._ws.bind_source), type="bind", propagation=propagation)

    def _why_dead(self, what: str) -> str:
        """Describe the container's state; notes whether it died of its own memory use (the agent's doing)."""
        state = "unknown"
        try:
            self._container.reload()
            s = self._container.attrs["State"]
            state = f"status={s['Status']} exit_code={s['ExitCode']} oom_killed={s['OOMKilled']}"
            self._killed_from_inside = bool(s["OOMKilled"])
        except (DockerException, AttributeError):
            state = "container gone"
        stderr = self._channel.stderr.decode(errors="replace").strip()[-1000:] if self._channel else ""
        return f"{what}; container {state}" + (f"; helper stderr: {stderr}" if stderr else "")

    def _check_usable(self) -> None:
        if self._channel is None:
            raise SandboxError("this DockerSandbox is closed")
        if self._broken:
            raise SandboxError(f"this DockerSandbox is broken: {self._broken}")

    def exec(self, cmd: str, timeout: float | None = None) -> ExecResult:
        check_command(cmd, timeout)
        timeout = timeout or self.limits.default_timeout_s
        with self._lock:
            self._check_usable()
            self._next_id += 1
            request = {"id": self._next_id, "cmd": cmd, "timeout": timeout}
            request |= {"cap": self.limits.output_cap_bytes, "cwd": WORKSPACE, "user": AGENT_UID}
            try:
                self._channel.send(request)
                reply = self._channel.receive(time.monotonic() + timeout + REPLY_MARGIN_S)
            except (TimeoutError, EOFError, OSError, ValueError) as exc:
                self._broken = self._why_dead(f"the sandbox helper stopped answering ({type(exc).__name__})")
                if self._killed_from_inside:
                    raise SandboxKilledFromInside(self._broken) from exc
                raise SandboxError(self._broken) from exc
        if reply.get("id") != request["id"] or "error" in reply:
            self._broken = f"the sandbox helper failed: {reply.get('error', 'reply out of order')}"
            raise SandboxError(self._broken)
        if "spawn_error" in reply:
            return ExecResult(126, "", f"prm: could not start the command: {reply['spawn_error']}\n", 0.0)
        outside = tuple(reply["outside_writes"])
        return ExecResult(**{k: reply[k] for k in runner.RESULT_FIELDS}, outside_writes=outside)

    def fork(self, *, use_spare: bool = True) -> DockerSandbox:
        """A new sandbox (new container, same image, limits, env and `sockets`) with a copy of this workspace.

        With `use_spare`, a fresh container started in the background by an earlier `fork()` or
        `prestart_fork()` is used when one is ready, so the fork costs only the workspace copy (a snapshot in
        the copy-on-write pool); a replacement spare then starts in the background. Otherwise the copy runs
        while a new container starts.
        """
        self._check_usable()
        forked = self._fork_into_spare() if use_spare else None
        if forked is None:
            forked = self._fork_into_new_container()
        if use_spare:  # the next spare starts after the copy, so the two do not compete for the disk
            self.prestart_fork()
        return forked

    def _fork_into_spare(self) -> DockerSandbox | None:
        spare = _SPARES.take(self._spare_key())
        if spare is not None:
            try:
                self._ws.copy_into(spare._ws)
            except BaseException:
                spare.close()
                raise
        return spare

    def _fork_into_new_container(self) -> DockerSandbox:
        instant = self._ws.copy_on_write  # a snapshot, taken before the container starts
        clone = self._ws.clone(new_root("prm-docker-"), visible_root=WORKSPACE, fill=instant)
        with ThreadPoolExecutor(1) as pool:
            copying = pool.submit(lambda: None if instant else self._ws.copy_into(clone))
            try:
                forked = DockerSandbox(
                    self.image,
                    limits=self.limits,
                    env=self.extra_env,
                    sockets=self._has_sockets,
                    _workspace=clone,
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    copying.result()
                clone.remove()
                raise
            try:
                copying.result()
            except BaseException:
                forked.close()
                raise
        return forked

    def prestart_fork(self, wait: bool = False, spares: int | None = None) -> None:
        """Start spare containers for this sandbox's next forks in the background (or wait for them): `spares`
        of them (kept for every later fork of this configuration), else as many as last asked for (one).

        Forks made back to back (e.g. n Monte Carlo rollouts per step) each take a ready spare: ask for n."""
        self._check_usable()
        if spares is not None and spares < 1:
            raise ValueError(f"spares must be at least 1, got {spares}")
        if self._spare_release is None:  # the spares go when this sandbox does (closed or collected)
            _SPARES.use(self._spare_key())
            self._spare_release = weakref.finalize(self, _SPARES.release, self._spare_key())
        _SPARES.ensure(self._spare_key(), self._start_spare, wait=wait, count=spares)

    def _spare_key(self) -> tuple:
        env = tuple(sorted(self.extra_env.items()))
        return (self.image, self.limits.model_dump_json(), env, self._has_sockets)

    def _start_spare(self) -> DockerSandbox:
        return DockerSandbox(self.image, limits=self.limits, env=self.extra_env, sockets=self._has_sockets)

    @property
    def _has_sockets(self) -> bool:
        return self.sockets_dir is not None

    @property
    def container_id(self) -> str | None:
        return self._container.id if self._container is not None else None

    def close(self) -> None:
        """Remove the container and the host workspace (with its snapshots). Safe to call twice."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        self._finalizer()
        if self._spare_release is not None:
            self._spare_release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
