"""The gold patch as tool calls: `edit` actions that turn the start files into the gold files, then `submit`.

Each changed region (a `difflib` group with 3 lines of context) becomes one exact-string `edit`; when that
text is not unique in the file at that point, the whole file is replaced in one `edit` instead. A new file
is an `edit` with `old=""`, a deleted one a `bash` `rm`.

Example:
    >>> actions = oracle_actions({"a.py": "x = 1\\ny = 2\\n"}, {"a.py": "x = 1\\ny = 3\\n"})
    >>> actions[0]
    '{"tool": "edit", "args": {"path": "a.py", "old": "x = 1\\\\ny = 2\\\\n", "new": "x = 1\\\\ny = 3\\\\n"}}'
    >>> actions[-1]
    '{"tool": "submit", "args": {}}'
"""

from __future__ import annotations

import json
import shlex
from difflib import SequenceMatcher


def _action(tool: str, **args: str) -> str:
    return json.dumps({"tool": tool, "args": args})


def _replacements(before: str, after: str) -> list[tuple[str, str]]:
    """(old, new) exact-string replacements, applied in order, that turn `before` into `after`."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    current, edits = before, []
    for group in SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        old = "".join(a[group[0][1] : group[-1][2]])
        new = "".join(b[group[0][3] : group[-1][4]])
        if not old or current.count(old) != 1:
            return [(before, after)]
        current = current.replace(old, new, 1)
        edits.append((old, new))
    return edits


DETOUR_LINE = '_prm_detour: int = "not an int"  # a type error, removed by the next step\n'


def detour_actions(start: dict[str, str | None], gold: dict[str, str | None]) -> list[str]:
    """Two edits of the first Python file the gold patch changes: append a line with a type error, then remove
    it. Behaviour is unchanged (tests do not move), but diagnostics do: the `lsp` signal goes down, then up.
    For demos and for checking that step signals react."""
    for path in sorted(gold):
        before, after = start.get(path), gold[path]
        if path.endswith(".py") and before and after is not None and before != after:
            broken = before + ("" if before.endswith("\n") else "\n") + DETOUR_LINE
            return [
                *(_action("edit", path=path, old=old, new=new) for old, new in _replacements(before, broken)),
                *(_action("edit", path=path, old=old, new=new) for old, new in _replacements(broken, before)),
            ]
    return []


def oracle_actions(
    start: dict[str, str | None], gold: dict[str, str | None], *, detour: bool = False
) -> list[str]:
    """Action strings that take the files `start` (None: absent) to `gold` (None: deleted), then submit;
    with `detour`, `detour_actions` come first."""
    actions = detour_actions(start, gold) if detour else []
    for path in sorted(gold):
        before, after = start.get(path), gold[path]
        if before == after:
            continue
        if after is None:
            actions.append(_action("bash", command=f"rm -f -- {shlex.quote(path)}"))
        elif not before:
            actions.append(_action("edit", path=path, old="", new=after))
        else:
            actions += [
                _action("edit", path=path, old=old, new=new) for old, new in _replacements(before, after)
            ]
    return [*actions, _action("submit")]
