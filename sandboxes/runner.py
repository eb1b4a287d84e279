"""Run one shell command with a hard timeout, capped output and a process-group kill (standard library only).

This module runs in two places: in-process for `LocalSandbox`, and inside every Docker sandbox as a long-lived
server (its source sent to a `python3` bootstrap over stdin) that reads one JSON request per line on stdin and answers one JSON
line on stdout. It must therefore import nothing outside the standard library and run on the image's Python.

Semantics, identical in both places:
- the command runs as `bash -c CMD` in a new session (its own process group), stdin is /dev/null;
- at the timeout the whole process group gets SIGKILL and the result says `timed_out`;
- each of stdout and stderr keeps its first `cap` bytes; the rest is read and dropped, and a marker line
  saying how much was dropped is appended;
- when the command exits but background processes it started keep its stdout/stderr open, they are killed
  (the process group) after a short grace period; background processes whose output is redirected
  (`server > log 2>&1 &`) keep running;
- the exit code follows the shell's convention: 128 + N when the command died from signal N.

Example:
    >>> run_command("echo hi", timeout=5, cap=1024, cwd="/", env={"PATH": "/usr/bin:/bin"})["stdout"]
    'hi\\n'
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import signal
import subprocess
import sys
import time

LINGER_S = 0.2
"""How long to keep reading after the command exited while a background process still holds its pipes."""

RESULT_FIELDS = ("exit_code", "stdout", "stderr", "duration_s", "timed_out", "output_truncated")

POLL_S = 0.05
"""How often to check whether the command exited while its pipes stay open and silent."""


def truncation_marker(omitted: int, total: int) -> str:
    return f"\n[prm: output truncated: {omitted} of {total} bytes omitted]\n"


def _prefer_for_oom_kill() -> None:
    """Make this process (and what it starts) the OOM killer's first choice: the host never is."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write("1000")


def _child_setup(rlimits: dict[str, int]) -> None:
    """Runs in the child before exec (in-process use): OOM preference and the rlimits."""
    _prefer_for_oom_kill()
    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def run_command(
    cmd: str, timeout: float, cap: int, cwd: str, env: dict[str, str], rlimits: dict[str, int] | None = None
) -> dict:
    """Run `cmd`; return a dict with exit_code, stdout, stderr, duration_s, timed_out, output_truncated."""
    start = time.monotonic()
    deadline = start + timeout
    limits = dict(rlimits or {})
    # Without a preexec function the child is started with vfork, which is much faster.
    setup = (lambda: _child_setup(limits)) if limits else None
    proc = subprocess.Popen(
        ["/bin/bash", "-c", cmd],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=setup,
    )
    streams = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
    kept = {name: bytearray() for name in streams.values()}
    total = {name: 0 for name in streams.values()}
    open_fds = set(streams)
    timed_out = False
    exited_at = None
    while open_fds:
        now = time.monotonic()
        if now >= deadline:
            timed_out = True
            break
        if exited_at is None and proc.poll() is not None:
            exited_at = now
        if exited_at is not None and now - exited_at > LINGER_S:
            break
        ready, _, _ = select.select(list(open_fds), [], [], min(deadline - now, POLL_S))
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                open_fds.discard(fd)
                continue
            name = streams[fd]
            total[name] += len(chunk)
            room = cap - len(kept[name])
            if room > 0:
                kept[name] += chunk[:room]
    if not timed_out:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = True
    if timed_out or open_fds:
        _kill_group(proc.pid)
    proc.wait()
    proc.stdout.close()
    proc.stderr.close()
    result: dict = {"duration_s": time.monotonic() - start, "timed_out": timed_out, "output_truncated": False}
    code = proc.returncode
    result["exit_code"] = 128 - code if code < 0 else code
    for name, data in kept.items():
        text = bytes(data).decode("utf-8", errors="replace")
        if total[name] > cap:
            result["output_truncated"] = True
            text += truncation_marker(total[name] - cap, total[name])
        result[name] = text
    return result


PIDS_RECOVERED = "prm: the process limit was reached; every other process in the sandbox was killed\n"


def _kill_all_but_me() -> bool:
    """In a container (never as root): SIGKILL every process this user may signal except this helper.

    Used when no process can be started any more (e.g. a fork bomb whose output was redirected survived its
    command), so that the sandbox recovers instead of refusing every later command.
    """
    if os.geteuid() == 0:
        return False
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        return False
    time.sleep(0.2)
    return True


def serve() -> None:
    """Answer JSON requests (`{"id", "cmd", "timeout", "cap", "cwd"}`) one per line until stdin closes."""
    _prefer_for_oom_kill()  # inherited by every command; among them the OOM killer picks the largest
    out = sys.stdout
    out.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    out.flush()
    env = dict(os.environ)
    for line in sys.stdin.buffer:
        request = json.loads(line)
        args = (request["cmd"], request["timeout"], request["cap"], request["cwd"], env)
        try:
            try:
                reply = run_command(*args)
            except BlockingIOError:
                if not _kill_all_but_me():
                    raise
                reply = run_command(*args)
                reply["stderr"] = PIDS_RECOVERED + reply["stderr"]
        except OSError as exc:  # the command could not start
            reply = {"spawn_error": f"{type(exc).__name__}: {exc}"}
        except Exception as exc:  # a helper failure: the host raises SandboxError
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        reply["id"] = request["id"]
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    serve()
