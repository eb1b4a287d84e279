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
- the exit code follows the shell's convention: 128 + N when the command died from signal N;
- whenever the process group is killed (timeout, or background processes holding the pipes), `run_command`
  returns only once no process of that group is left.

In a container the helper runs as root (with only the capabilities to switch users and read every file) and
starts each command as the sandbox user, so no command can signal it, write to its stdout or read its stdin.
After each command it lists what changed outside the workspace in the container's writable scratch places
(`/tmp`, `/dev/shm`), from file status change times that no unprivileged process can set, and reports them
as `outside_writes`.

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

GROUP_GONE_TIMEOUT_S = 30.0
"""How long a killed process group may take to disappear (the kernel tears processes down asynchronously)."""

SCRATCH_DIRS = ("/tmp", "/dev/shm")
"""Writable places outside the workspace in a container (the root file system is read-only)."""

MAX_OUTSIDE_WRITES = 100
"""At most this many outside writes are named per command; the rest are counted."""


def truncation_marker(omitted: int, total: int) -> str:
    return f"\n[prm: output truncated: {omitted} of {total} bytes omitted]\n"


OOM_PREFERRED = 1000
"""The OOM score adjustment of every command: the OOM killer's first choice, before the helper and the host."""


def _set_oom_score_adj(value: int) -> None:
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as f:
        f.write(str(value))


def _prefer_for_oom_kill() -> None:
    """Make this process (and what it starts) the OOM killer's first choice: the host never is."""
    _set_oom_score_adj(OOM_PREFERRED)


@contextlib.contextmanager
def _commands_preferred_for_oom_kill():
    """The helper's score is raised only while it starts a command (which inherits it), then set back, so
    that under memory pressure the OOM killer takes the agent's processes, never the helper (whose death
    would end the sandbox); raising is always allowed, going back to the score it started with too."""
    try:
        with open("/proc/self/oom_score_adj") as f:
            own = int(f.read())
    except (OSError, ValueError):  # no /proc: nothing to prefer
        yield
        return
    _set_oom_score_adj(OOM_PREFERRED)
    try:
        yield
    finally:
        _set_oom_score_adj(own)


def _child_setup(rlimits: dict[str, int]) -> None:
    """Runs in the child before exec (in-process use): OOM preference and the rlimits."""
    _prefer_for_oom_kill()
    for name, value in rlimits.items():
        resource.setrlimit(getattr(resource, name), (value, value))


def _kill_group(pgid: int) -> None:
    """SIGKILL the process group until none of its processes is left (for at most `GROUP_GONE_TIMEOUT_S`).

    The signal is sent again at every check: a process forked while the group was being killed (a fork bomb)
    misses the first one."""
    deadline = time.monotonic() + GROUP_GONE_TIMEOUT_S
    with contextlib.suppress(ProcessLookupError, PermissionError):
        while time.monotonic() < deadline:
            os.killpg(pgid, signal.SIGKILL)  # ProcessLookupError once the group is empty (zombies reaped)
            time.sleep(0.005)


def run_command(
    cmd: str,
    timeout: float,
    cap: int,
    cwd: str,
    env: dict[str, str],
    rlimits: dict[str, int] | None = None,
    user: int | None = None,
) -> dict:
    """Run `cmd` (as uid and gid `user` when given); return a dict with `RESULT_FIELDS`."""
    start = time.monotonic()
    deadline = start + timeout
    limits = dict(rlimits or {})
    # Without a preexec function the child is started with vfork, which is much faster.
    setup = (lambda: _child_setup(limits)) if limits else None
    identity = {} if user is None else {"user": user, "group": user, "extra_groups": []}
    # As the container's helper (`user` given), commands inherit the OOM preference; in-process, `setup` sets it.
    with _commands_preferred_for_oom_kill() if user is not None else contextlib.nullcontext():
        proc = subprocess.Popen(
            ["/bin/bash", "-c", cmd],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=setup,
            **identity,
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
        proc.kill()  # the group leader first, so that waiting for the group below also reaps it
        proc.wait()
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
    """SIGKILL every process of the container except this helper and the init process (`kill(-1)`).

    Used when no process can be started any more (e.g. a fork bomb whose output was redirected survived its
    command), so that the sandbox recovers instead of refusing every later command. Only `serve` calls it,
    which runs only inside a container (its own pid namespace).
    """
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        return False
    return True


PIDS_RESERVE = 8
"""When fewer process slots than this are free before a command, the sandbox user's processes are killed."""


def _pids_nearly_exhausted() -> bool:
    """True when the container's pids cgroup (v2 or v1) has fewer than `PIDS_RESERVE` free slots."""
    for base in ("/sys/fs/cgroup", "/sys/fs/cgroup/pids"):
        try:
            with open(f"{base}/pids.current") as f:
                current = int(f.read())
            with open(f"{base}/pids.max") as f:
                limit = f.read().strip()
        except (OSError, ValueError):
            continue
        return limit != "max" and int(limit) - current < PIDS_RESERVE
    return False


def _retry_until_slots_free(args: tuple, user: int | None) -> dict:
    """Run the command once the killed processes are reaped (their pid slots free), within the grace time."""
    deadline = time.monotonic() + GROUP_GONE_TIMEOUT_S
    while True:
        try:
            return run_command(*args, user=user)
        except BlockingIOError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _scratch_state() -> dict[str, tuple[int, int]]:
    """Path -> (inode, ctime in ns) of every entry under `SCRATCH_DIRS` (status change times cannot be set)."""
    state: dict[str, tuple[int, int]] = {}
    for top in SCRATCH_DIRS:
        for root, dirs, files in os.walk(top):
            for name in dirs + files:
                path = os.path.join(root, name)
                with contextlib.suppress(OSError):
                    st = os.lstat(path)
                    state[path] = (st.st_ino, st.st_ctime_ns)
    return state


def outside_writes(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    """Entries created or changed between two `_scratch_state` listings (capped; the rest counted)."""
    changed = sorted(path for path, stamp in after.items() if before.get(path) != stamp)
    if len(changed) > MAX_OUTSIDE_WRITES:
        changed = [*changed[:MAX_OUTSIDE_WRITES], f"[... {len(changed) - MAX_OUTSIDE_WRITES} more]"]
    return changed


def serve() -> None:
    """Answer JSON requests (`{"id", "cmd", "timeout", "cap", "cwd", "user"}`) one per line until stdin closes."""
    out = sys.stdout
    out.write(json.dumps({"ready": True, "pid": os.getpid()}) + "\n")
    out.flush()
    env = dict(os.environ)
    scratch = _scratch_state()
    for line in sys.stdin.buffer:
        request = json.loads(line)
        user = request.get("user")
        args = (request["cmd"], request["timeout"], request["cap"], request["cwd"], env)
        try:
            try:
                if _pids_nearly_exhausted():  # bash could start but not fork: recover first
                    raise BlockingIOError
                reply = run_command(*args, user=user)
            except BlockingIOError:
                if not _kill_all_but_me():
                    raise
                reply = _retry_until_slots_free(args, user)
                reply["stderr"] = PIDS_RECOVERED + reply["stderr"]
            now = _scratch_state()
            reply["outside_writes"], scratch = outside_writes(scratch, now), now
        except OSError as exc:  # the command could not start
            reply = {"spawn_error": f"{type(exc).__name__}: {exc}"}
        except Exception as exc:  # a helper failure: the host raises SandboxError
            reply = {"error": f"{type(exc).__name__}: {exc}"}
        reply["id"] = request["id"]
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    serve()
