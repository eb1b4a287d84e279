"""The persistent Python kernel that runs inside the sandbox (standard library only; its source is sent in).

`prm.envs.data_analysis.kernel.Kernel` starts `python3 -c BOOTSTRAP` in the container through a `docker exec`;
the bootstrap reads one JSON line on stdin (this module's source, the path of a Unix socket the host listens
on, a secret) and calls `serve()`, which connects to the socket and sends `{"secret", "pid"}` as its first
line. From then on the socket is the channel, beside dockerd: requests are JSON lines from the host, replies
JSON lines back. Stdin becomes `/dev/null` and fd 1 and 2 a pipe, so nothing the cell writes, even with
`os.write(1, ...)` or a subprocess, reaches the channel by accident (the socket is close-on-exec).
Output written at fd level is appended after the cell's Python-level output.

- `{"op": "run", "code": str, "timeout": float, "cap": int}`: runs the cell in one persistent namespace (like a
  notebook cell: a final expression's repr is shown). Everything the cell writes to stdout/stderr (Python or C
  level) is merged, the first `cap` bytes kept and the rest counted. After `timeout` seconds the cell gets a
  `KeyboardInterrupt` (SIGALRM, as SIGINT would); a cell that swallows it is killed by the host. Processes
  the cell started (subprocesses, forks, background jobs) are killed when it ends.
  Reply: `{"output", "error" (None or "ExcType: message"), "truncated", "omitted", "interrupted", "duration_s"}`.
- `{"op": "probe", "limit": int}`: a copy-on-write `os.fork()` of the kernel lists scalar values held by the
  namespace (numbers and short strings, also inside small lists, dicts, Series and DataFrames), at most
  `limit`; the kernel's own state is untouched. Reply: `{"values": [...]}`.

Limits set at start (inherited by what the cell starts): `RLIMIT_AS` (a 30 GB allocation is a `MemoryError`,
not an OOM kill), `RLIMIT_NPROC` (a fork bomb stops short of the container's pids limit), OOM-killer preference.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import resource
import select
import signal
import socket
import sys
import threading
import time
import traceback

MAX_PROBE_STRING = 80


class _Output:
    """Collects one cell's output, keeping the first `cap` bytes and counting the rest.

    Python-level writes (`print`, tracebacks) arrive through `_Stream` objects directly; writes to fd 1 and 2
    (`os.write`, C code, subprocesses) go to a pipe that a thread drains while the cell runs (so a flood never
    blocks the writer) and the main thread empties at the cell's end. Both read the pipe under one lock, so
    after `finish_cell` everything written before it is counted, with no hand-off between threads.
    """

    def __init__(self, read_fd: int):
        self.read_fd = read_fd
        os.set_blocking(read_fd, False)
        self.lock = threading.Lock()
        self.start_cell(0)
        threading.Thread(target=self._drain, daemon=True).start()

    def start_cell(self, cap: int) -> None:
        self.kept, self.total, self.cap = bytearray(), 0, cap

    def keep(self, data: bytes) -> None:
        self.total += len(data)
        room = self.cap - len(self.kept)
        if room > 0:
            self.kept += data[:room]

    def _read_available(self) -> None:
        with self.lock, contextlib.suppress(BlockingIOError):
            while chunk := os.read(self.read_fd, 1 << 16):
                self.keep(chunk)

    def _drain(self) -> None:
        while True:
            select.select([self.read_fd], [], [])
            self._read_available()

    def finish_cell(self) -> tuple[str, int]:
        """(kept text, bytes omitted) of everything the cell wrote."""
        self._read_available()
        return bytes(self.kept).decode("utf-8", errors="replace"), max(0, self.total - len(self.kept))


class _Stream(io.TextIOBase):
    """`sys.stdout` / `sys.stderr` of the kernel: text straight into the cell's `_Output`."""

    def __init__(self, output: _Output, fd: int):
        self.output, self.fd = output, fd

    def write(self, text: str) -> int:
        self.output.keep(text.encode("utf-8", errors="replace"))
        return len(text)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    @property
    def encoding(self) -> str:
        return "utf-8"


def _strays_alive() -> bool:
    """Whether a process of the kernel's user other than the kernel runs in the container (zombies do not
    count: they run nothing). Read from /proc (`kill(-1)` cannot tell: it succeeds while any process of the
    container is visible, signalled or not)."""
    uid, me = str(os.getuid()), str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        except OSError:  # it ended meanwhile
            continue
        if fields.get("Uid", "").split()[:1] == [uid] and not fields.get("State", "").strip().startswith("Z"):
            return True
    return False


def _end_strays() -> None:
    """Kills every process the cell left behind (all of the kernel's user but the kernel: `kill(-1)` spares
    the caller) and reaps them, so a fork bomb or a background job cannot write into later cells."""
    for _ in range(1000):  # again until none is left: a fork bomb forks while it is being killed
        with contextlib.suppress(ChildProcessError):  # the kernel's own children stay zombies until reaped
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass
        if not _strays_alive():
            return
        with contextlib.suppress(OSError):
            os.kill(-1, signal.SIGKILL)


def _interrupt(signum, frame):
    raise KeyboardInterrupt("the cell ran past its timeout")


def _run_cell(code: str, namespace: dict) -> str | None:
    """Executes `code`; returns None or 'ExcType: message' (the traceback is written to stderr)."""
    try:
        tree = ast.parse(code, "<cell>", "exec")
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, "<cell>", "exec"), namespace)
        if last is not None:
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)
            if value is not None:
                print(repr(value))
        return None
    except BaseException as exc:  # the agent's error, reported, never fatal to the kernel
        if isinstance(exc, SystemExit):
            exc = RuntimeError(f"SystemExit({exc.code}) ignored: the kernel keeps running")
        traceback.print_exception(type(exc), exc, exc.__traceback__.tb_next if exc.__traceback__ else None)
        return f"{type(exc).__name__}: {exc}"[:500]


def _scalars(value, out: list, limit: int, depth: int = 0) -> None:
    if len(out) >= limit:
        return
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        out.append(value)
    elif isinstance(value, str):
        if len(value) <= MAX_PROBE_STRING:
            out.append(value)
    elif type(value).__module__.startswith("numpy") and getattr(value, "ndim", None) == 0:
        with contextlib.suppress(Exception):
            _scalars(value.item(), out, limit, depth)
    elif depth < 2 and hasattr(value, "size") and hasattr(value, "tolist"):  # numpy arrays, Series
        if value.size <= 50:
            with contextlib.suppress(Exception):
                _scalars(value.tolist(), out, limit, depth + 1)
                if hasattr(value, "index"):
                    _scalars(list(value.index), out, limit, depth + 1)
    elif depth < 2 and hasattr(value, "to_dict") and getattr(value, "size", 1e9) <= 50:  # small DataFrames
        with contextlib.suppress(Exception):
            _scalars(value.to_dict(), out, limit, depth + 1)
    elif depth < 2 and isinstance(value, dict) and len(value) <= 50:
        _scalars(list(value.keys()), out, limit, depth + 1)
        _scalars(list(value.values()), out, limit, depth + 1)
    elif depth < 2 and isinstance(value, (list, tuple, set)) and len(value) <= 50:
        for item in value:
            _scalars(item, out, limit, depth + 1)


def _probe(namespace: dict, limit: int, channel: socket.socket) -> None:
    """Forks; the child lists the namespace's scalar values and writes them as one JSON line, then exits."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        values: list = []
        for name, value in list(namespace.items()):
            if not name.startswith("_"):
                _scalars(value, values, limit)
        os.write(write_fd, json.dumps({"values": values}, default=str).encode())
        os._exit(0)
    os.close(write_fd)
    data = bytearray()
    while chunk := os.read(read_fd, 1 << 16):
        data += chunk
    os.close(read_fd)
    os.waitpid(pid, 0)
    channel.sendall(bytes(data or b'{"values": []}') + b"\n")


def _connect(path: str, secret: str) -> socket.socket:
    """The channel to the host: the Unix socket at `path`, introduced by the secret the host sent in."""
    channel = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    channel.connect(path)
    channel.sendall(json.dumps({"secret": secret, "pid": os.getpid()}).encode() + b"\n")
    return channel


def serve(channel_path: str, secret: str, memory_bytes: int, max_processes: int) -> None:
    if os.getuid() == 0:  # `kill(-1)` between cells would reach every process the host runs
        raise SystemExit("the kernel refuses to run as root")
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_NPROC, (max_processes, max_processes))
    channel = _connect(channel_path, secret)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.close(null_fd)
    read_fd, write_fd = os.pipe()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    output = _Output(read_fd)
    sys.stdout, sys.stderr = _Stream(output, 1), _Stream(output, 2)
    signal.signal(signal.SIGALRM, _interrupt)
    namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
    requests = channel.makefile("r", encoding="utf-8")
    kernel_pid = os.getpid()
    for line in requests:
        request = json.loads(line)
        if request["op"] == "probe":
            try:
                _probe(namespace, int(request["limit"]), channel)
            except Exception:  # e.g. the agent replaced os.fork: the probe sees nothing, the kernel lives on
                channel.sendall(b'{"values": []}\n')
            continue
        output.start_cell(int(request["cap"]))
        started = time.monotonic()
        interrupted = False
        signal.setitimer(signal.ITIMER_REAL, float(request["timeout"]))
        try:
            error = _run_cell(request["code"], namespace)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            if os.getpid() != kernel_pid:  # a process the cell forked: it must never serve requests
                os._exit(0)
        _end_strays()
        if error is not None and error.startswith("KeyboardInterrupt"):
            interrupted = time.monotonic() - started >= float(request["timeout"]) * 0.99
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        text, omitted = output.finish_cell()
        reply = {"output": text, "error": error, "truncated": omitted > 0, "omitted": omitted}
        reply |= {"interrupted": interrupted, "duration_s": time.monotonic() - started}
        channel.sendall(json.dumps(reply).encode() + b"\n")
