"""The SWE tools: bash, view, edit (exact-string replacement), search (grep) and submit.

Each tool works on the env's current sandbox (looked up per call, so a forked env's tools act on its own
fork). Mistakes the agent can fix (a missing file, an `old` text that is absent or ambiguous, a bad regex)
raise `ActionError`, which the env turns into an explanatory observation. A failing sandbox raises
`SandboxError`, which ends the episode as an infrastructure failure.

Long outputs are cut in the middle and the cut is marked (`[... N characters cut ...]`). Every tool reports
the files changed during its step in `ToolResult.changed_files` (paths relative to the repository root), from
the sandbox's `drain_changes()`: the host's kernel, never anything a command prints, at a cost that does not
grow with the workspace. `bash` also reports `outside_writes`: paths outside the workspace its command
created or changed, as the sandbox saw them (None where the sandbox cannot tell).

Text arguments holding a NUL byte or a lone surrogate (nothing a process or a file can take) are invalid
actions, as are paths longer than `MAX_PATH_CHARS`; files the host will not read (FIFOs, devices, files over
the sandbox's read cap) are refused with an explanation.

Example:
    >>> from prm.sandboxes.local import LocalSandbox
    >>> from prm.envs.swe.tools import SweTools
    >>> with LocalSandbox() as sb:
    ...     sb.watch_changes()
    ...     tools = {tool.name: tool for tool in SweTools(lambda: sb).tools()}
    ...     created = tools["edit"].run(tools["edit"].params(path="a.py", old="", new="x = 1\\n"))
    ...     tools["bash"].run(tools["bash"].params(command="echo hi > b.txt")).changed_files
    ['b.txt']
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from prm.errors import PathEscapeError, UnsafeFileError
from prm.sandboxes.base import Sandbox
from prm.tools import ActionError, Tool, ToolResult

MAX_OBSERVATION_CHARS = 8000
"""Observations longer than this are cut in the middle."""
MAX_CAPTURED_BYTES = 200_000
"""bash keeps at most this much of a command's output (the head) before cutting."""
MAX_SEARCH_MATCHES = 100
DEFAULT_BASH_TIMEOUT_S = 60.0
MAX_PATH_CHARS = 1024


def _plain_text(value: str) -> str:
    """Text a process argument or a file can hold: no NUL byte, no lone surrogate."""
    if "\0" in value:
        raise ValueError("contains a NUL byte")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("contains a lone surrogate (not valid Unicode text)") from None
    return value


Text = Annotated[str, AfterValidator(_plain_text)]
Path_ = Annotated[str, Field(min_length=1, max_length=MAX_PATH_CHARS), AfterValidator(_plain_text)]


def truncate(text: str, limit: int = MAX_OBSERVATION_CHARS, hint: str = "") -> str:
    """`text`, or its head and tail with the middle replaced by a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[-(limit // 3) :]
    cut = len(text) - len(head) - len(tail)
    return f"{head}\n[... {cut} characters cut{'; ' + hint if hint else ''} ...]\n{tail}"


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BashArgs(_Args):
    command: Text = Field(min_length=1, description="a bash command line, run in the repository root")
    timeout: float = Field(default=DEFAULT_BASH_TIMEOUT_S, gt=0, le=600, description="seconds")


class ViewArgs(_Args):
    path: Path_ = Field(description="file or directory, relative to the repository root")
    start_line: int | None = Field(default=None, ge=1, description="first line to show (1-based)")
    end_line: int | None = Field(default=None, ge=1, description="last line to show (inclusive)")


class EditArgs(_Args):
    path: Path_ = Field(description="file, relative to the repository root")
    old: Text = Field(description="exact text to replace (must occur once); '' creates a new file")
    new: Text = Field(description="replacement text")


class SearchArgs(_Args):
    pattern: Text = Field(min_length=1, description="extended regular expression (grep -E)")
    path: Path_ = Field(default=".", description="file or directory to search")


class SubmitArgs(_Args):
    pass


class SweTools:
    """The tool set of `prm/swe-v0`, bound to a function returning the sandbox to act on."""

    def __init__(self, sandbox_of: Callable[[], Sandbox]):
        self._sandbox_of = sandbox_of

    def tools(self) -> list[Tool]:
        return [self._reporting_changes(tool) for tool in self._tools()]

    def _reporting_changes(self, tool: Tool) -> Tool:
        """The tool, its result carrying the files changed during the step (from the sandbox's watch)."""

        def run(args: BaseModel) -> ToolResult:
            try:
                result = tool.run(args)
            finally:
                changed = self.sandbox.drain_changes()
            result.changed_files = changed
            return result

        return Tool(tool.name, tool.description, tool.params, run)

    def _tools(self) -> list[Tool]:
        return [
            Tool(
                "bash",
                "Run a bash command in the repository root (no network). stdout and stderr are merged and "
                f"the exit code is shown; output over {MAX_OBSERVATION_CHARS} characters is cut in the middle. "
                f"timeout: seconds (default {DEFAULT_BASH_TIMEOUT_S:g}, at most 600).",
                BashArgs,
                self.bash,
            ),
            Tool(
                "view",
                "Show a file with line numbers (optionally only start_line..end_line, 1-based, inclusive), "
                "or list a directory two levels deep.",
                ViewArgs,
                self.view,
            ),
            Tool(
                "edit",
                "Replace the exact text `old` with `new` in file `path`. `old` must occur exactly once "
                "(whitespace and indentation matter; add surrounding lines to make it unique). "
                'With old="" it creates a new file (or fills an empty one) with `new`.',
                EditArgs,
                self.edit,
            ),
            Tool(
                "search",
                "Find lines matching an extended regular expression (grep -E) in the files under `path` "
                f"(default: the repository root); prints file:line:text, at most {MAX_SEARCH_MATCHES} matches.",
                SearchArgs,
                self.search,
            ),
            Tool(
                "submit",
                "Finish the episode: your changes are graded with the repository's tests.",
                SubmitArgs,
                self.submit,
            ),
        ]

    @property
    def sandbox(self) -> Sandbox:
        return self._sandbox_of()

    def _read_text(self, path: str) -> str | None:
        """The file's text, None when it does not exist; `ActionError` for directories, binaries, escapes."""
        try:
            data = self.sandbox.read_file(path)
        except FileNotFoundError:
            return None
        except IsADirectoryError as err:
            raise ActionError(f"{path} is a directory, not a file") from err
        except (PathEscapeError, UnsafeFileError, OSError) as err:
            raise ActionError(f"cannot read {path}: {err}") from err
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ActionError(f"{path} is not a UTF-8 text file") from err

    # --- the tools ------------------------------------------------------------------------------------
    def bash(self, args: BashArgs) -> ToolResult:
        # stderr joins stdout from the first line on, so the two interleave as in a terminal
        result = self.sandbox.exec(f"exec 2>&1\n{args.command}", timeout=args.timeout)
        output = result.stdout + result.stderr
        if len(output) > MAX_CAPTURED_BYTES:
            output = output[:MAX_CAPTURED_BYTES]
            output += f"\n[... output cut: only the first {MAX_CAPTURED_BYTES} characters were kept ...]"
        note = f"[exit code {result.exit_code}]"
        if result.timed_out:
            note += f" (timed out after {args.timeout:g} s)"
        elif result.exit_code == 137:
            note += " (killed, e.g. out of memory)"
        observation = f"{truncate(output.rstrip()) or '(no output)'}\n{note}"
        outside = None if result.outside_writes is None else list(result.outside_writes)
        return ToolResult(observation, info={"outside_writes": outside})

    def view(self, args: ViewArgs) -> ToolResult:
        try:
            text = self._read_text(args.path)
        except ActionError:
            if not self._is_dir(args.path):
                raise
            listing = self.sandbox.exec(
                f"find {shlex.quote(args.path)} -maxdepth 2 -not -path '*/.*' | LC_ALL=C sort", timeout=30
            )
            return ToolResult(truncate(listing.stdout.rstrip(), hint="view a subdirectory to see the rest"))
        if text is None:
            raise ActionError(f"no such file: {args.path}")
        lines = text.splitlines()
        start, end = args.start_line or 1, min(args.end_line or len(lines), len(lines))
        if lines and start > len(lines):
            raise ActionError(f"start_line {start} is past the end of {args.path} ({len(lines)} lines)")
        if end < start and lines:
            raise ActionError(f"end_line {end} is before start_line {start}")
        body = (
            "\n".join(f"{n:>6}\t{lines[n - 1]}" for n in range(start, end + 1)) if lines else "(empty file)"
        )
        header = f"{args.path} (lines {start}-{end} of {len(lines)}):\n" if lines else f"{args.path}:\n"
        return ToolResult(header + truncate(body, hint="use start_line/end_line to see the rest"))

    def _is_dir(self, path: str) -> bool:
        try:
            self.sandbox.list_dir(path)
        except (OSError, PathEscapeError, UnsafeFileError):
            return False
        return True

    def edit(self, args: EditArgs) -> ToolResult:
        text = self._read_text(args.path)
        if args.old == "":
            if text:
                raise ActionError(
                    f"{args.path} exists and is not empty; put the exact text to replace in 'old' "
                    '(old="" only creates a file)'
                )
            self._write(args.path, args.new)
            return ToolResult(f"Created {args.path} ({len(args.new.splitlines())} lines).")
        if text is None:
            raise ActionError(f'no such file: {args.path} (to create a file, use old="")')
        count = text.count(args.old)
        if count == 0:
            raise ActionError(
                f"'old' does not occur in {args.path}; view the file and copy the exact text "
                "(whitespace and indentation included)"
            )
        if count > 1:
            raise ActionError(
                f"'old' occurs {count} times in {args.path}; add surrounding lines to make it unique"
            )
        if args.old == args.new:
            raise ActionError("'old' and 'new' are the same; nothing would change")
        at = text.index(args.old)
        updated = text[:at] + args.new + text[at + len(args.old) :]
        self._write(args.path, updated)
        first = text.count("\n", 0, at) + 1
        last = first + args.new.count("\n")
        lines = updated.splitlines()
        shown = range(max(1, first - 3), min(len(lines), last + 3) + 1)
        snippet = "\n".join(f"{n:>6}\t{lines[n - 1]}" for n in shown)
        return ToolResult(f"Edited {args.path}; the changed region now reads:\n{truncate(snippet)}")

    def _write(self, path: str, text: str) -> None:
        try:
            self.sandbox.write_file(path, text)
        except (PathEscapeError, UnsafeFileError, OSError) as err:
            raise ActionError(f"cannot write {path}: {err}") from err

    def search(self, args: SearchArgs) -> ToolResult:
        cmd = f"grep -rnIE --exclude-dir=.git -e {shlex.quote(args.pattern)} -- {shlex.quote(args.path)}"
        result = self.sandbox.exec(cmd, timeout=60)
        if result.exit_code == 1:
            return ToolResult(f"No matches for {args.pattern!r} in {args.path}.")
        if result.exit_code != 0 or result.timed_out:
            raise ActionError(f"search failed: {result.stderr.strip()[:500] or 'timed out'}")
        matches = [line[:300] for line in result.stdout.splitlines()]
        shown = "\n".join(matches[:MAX_SEARCH_MATCHES])
        if len(matches) > MAX_SEARCH_MATCHES:
            shown += f"\n[... {len(matches) - MAX_SEARCH_MATCHES} more matches; narrow the pattern or the path ...]"
        return ToolResult(truncate(shown))

    def submit(self, args: SubmitArgs) -> ToolResult:
        return ToolResult("Submitted; your changes are being graded.", done=True)
