"""LocalSandbox: exec, timeouts, caps, rlimits, file operations, snapshots and forks on the real host."""

from __future__ import annotations

import os

import pytest

from prm.errors import PathEscapeError, SandboxError
from prm.sandboxes import LocalSandbox, Sandbox, SandboxLimits
from prm.sandboxes.runner import truncation_marker
from tests.sandbox_dirs import require_pool


@pytest.fixture(scope="module")
def sb():
    with LocalSandbox(
        limits=SandboxLimits(memory_mb=512, output_cap_bytes=100_000, file_size_mb=1)
    ) as sandbox:
        yield sandbox


def test_is_a_sandbox_and_runs_in_its_workspace(sb):
    assert isinstance(sb, Sandbox)
    result = sb.exec("pwd; echo out; echo err >&2; exit 3")
    assert result.exit_code == 3 and not result.ok
    assert result.stdout == f"{sb.workspace}\nout\n"
    assert result.stderr == "err\n"
    assert result.duration_s > 0


def test_timeout_kills_the_process_group_and_sandbox_stays_usable(sb):
    result = sb.exec("sleep 1000 & sleep 1000; echo never", timeout=1)
    assert result.timed_out and not result.ok
    assert result.duration_s < 30  # it did not wait for the sleeps
    assert "never" not in result.stdout
    assert sb.exec("echo still here").stdout == "still here\n"


def test_background_process_does_not_hold_exec(sb):
    result = sb.exec("sleep 1000 > /dev/null 2>&1 & echo $! > bg.pid; echo started", timeout=20)
    assert result.stdout == "started\n" and not result.timed_out
    assert sb.exec("kill $(cat bg.pid)").ok  # its output was redirected: it was still running
    held = sb.exec("sleep 1000 & echo $! > held.pid; echo started", timeout=20)
    assert held.stdout == "started\n" and not held.timed_out
    assert not sb.exec("kill -0 $(cat held.pid)").ok  # it held the command's pipes: gone when exec returned


def test_output_is_capped_and_marked(sb):
    result = sb.exec("head -c 10000000 /dev/zero | tr '\\0' a")
    assert result.output_truncated
    assert result.stdout.startswith("a" * 100_000)
    assert result.stdout.endswith(truncation_marker(10_000_000 - 100_000, 10_000_000))


def test_memory_and_file_size_limits(sb):
    hog = sb.exec("python3 -c 'x = bytearray(2 * 1024**3)'")
    assert hog.exit_code != 0 and "MemoryError" in hog.stderr
    big = sb.exec("head -c 3000000 /dev/zero > big.bin")
    assert big.exit_code != 0
    assert os.path.getsize(os.path.join(sb.workspace, "big.bin")) <= 1024 * 1024
    assert sb.exec("echo ok").ok


def test_files_relative_and_absolute(sb):
    sb.write_file("dir/sub/a.txt", "héllo")
    assert sb.read_file("dir/sub/a.txt") == "héllo".encode()
    assert sb.read_file(f"{sb.workspace}/dir/sub/a.txt") == "héllo".encode()
    assert sb.list_dir("dir") == ["sub"]
    assert sb.exec("cat dir/sub/a.txt").stdout == "héllo"


@pytest.mark.parametrize("path", ["../outside", "/etc/passwd", "dir/../../x", "link-out/passwd"])
def test_path_escape_is_refused(sb, path):
    sb.exec("ln -sfn /etc link-out")
    with pytest.raises(PathEscapeError):
        sb.read_file(path)
    with pytest.raises(PathEscapeError):
        sb.write_file(path, "x")


def test_bad_commands_are_typed_errors(sb):
    with pytest.raises(TypeError, match="command must be a string"):
        sb.exec(["echo", "hi"])
    with pytest.raises(ValueError, match="timeout"):
        sb.exec("true", timeout=-1)
    with pytest.raises(TypeError, match="data must be bytes or str"):
        sb.write_file("a", 3)


@pytest.mark.parametrize("kind", ["copied", "copy-on-write"])
def test_snapshot_restore_is_exact_and_forks_diverge(tmp_path, monkeypatch, kind):
    """Both kinds of sandbox directory: plain folders (copied) and the btrfs pool (snapshots)."""
    if kind == "copied":
        monkeypatch.setenv("PRM_SANDBOX_DIR", str(tmp_path / "sandboxes"))
    else:
        require_pool()
    seed = tmp_path / "seed"
    (seed / "pkg").mkdir(parents=True)
    (seed / "pkg" / "mod.py").write_text("x = 1\n")
    with LocalSandbox(workspace_from=seed) as sb:
        sb.exec("chmod 700 pkg/mod.py && ln -s pkg/mod.py link && mkdir -p empty")
        manifest = "find . -printf '%p %m %s %l\\n' | sort; cat pkg/mod.py"
        before = sb.exec(manifest).stdout
        snap = sb.snapshot()
        sb.exec("rm -r pkg empty && echo y > new.txt && rm link")
        assert sb.exec(manifest).stdout != before
        sb.restore(snap)
        assert sb.exec(manifest).stdout == before
        assert sb._ws.copy_on_write == (kind == "copy-on-write")

        child = sb.fork()
        try:
            sb.write_file("pkg/mod.py", "x = 'parent'\n")
            child.write_file("pkg/mod.py", "x = 'child'\n")
            assert sb.read_file("pkg/mod.py") == b"x = 'parent'\n"
            assert child.read_file("pkg/mod.py") == b"x = 'child'\n"
            assert child.workspace != sb.workspace
        finally:
            child.close()
    assert (seed / "pkg" / "mod.py").read_text() == "x = 1\n"
    with pytest.raises(SandboxError, match="closed"):
        sb.exec("true")
