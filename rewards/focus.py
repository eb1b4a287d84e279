"""Focused documents: a Python file with the bodies of functions that an edit did not touch stubbed out.

Pyright checks a whole file per change (about 0.5 s for 1,000 lines here), but an edit's diagnostics live
in the code it changed. `focus(text, changed)` keeps every line of `text` where it is (so diagnostic
positions are the file's own) and replaces the body of each function that contains no changed line by
`raise NotImplementedError` and blank lines. Module code, class bodies, signatures and decorators stay, so
names, imports and declared types resolve as in the full file. (The stub is `raise NotImplementedError`, not
`...` or `pass`: Pyright infers `None` as the return type of those, which gives false errors at call sites,
while a NotImplementedError stub neither makes code after a call unreachable nor types the result.)
An edit that changes an interface (a function's signature or decorators, a class's shape, a
module-level statement) also keeps the bodies that use the names it changed (`interface_names`, which
compares the two versions' syntax, not line spans), so a caller that no longer matches a changed signature
is checked. What is not seen:
a new error inside an untouched function body that uses the changed code under another name, and users in
other files (importers). A text that does not parse is returned whole.

>>> old = "def f():\\n    return 1\\n\\ndef g():\\n    return 2\\n"
>>> new = old.replace("return 2", "return 'two'")
>>> changed_lines(old, new)
({5}, {5})
>>> interface_names(parse(old), parse(new)), interface_names(parse(old), parse(new.replace("g()", "g(x)")))
(set(), {'g'})
>>> print(focus(new, {5}), end="")
def f():
    raise NotImplementedError
<BLANKLINE>
def g():
    return 'two'
"""

from __future__ import annotations

import ast
import threading

FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
COMPOUND = (ast.If, ast.Try, ast.With, ast.For, ast.While)


def changed_lines(old: str, new: str) -> tuple[set[int], set[int]]:
    """The 1-based line numbers between the common leading and trailing lines of `old` and `new`, in each
    (a pure insertion or deletion marks the line where it happened on the other side). Edits are local, so
    one span per side is enough, and it takes linear time (a line diff of a large file does not)."""
    a, b = old.splitlines(), new.splitlines()
    if a == b:
        return set(), set()
    prefix = 0
    while prefix < min(len(a), len(b)) and a[prefix] == b[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(a), len(b)) - prefix and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    return (
        set(range(prefix + 1, max(len(a) - suffix, prefix + 1) + 1)),
        set(range(prefix + 1, max(len(b) - suffix, prefix + 1) + 1)),
    )


def _interfaces(tree: ast.Module | None) -> dict[str, str]:
    """Each interface of a module, by name ("f", "C", "C.m", module-level names) -> its position-free
    syntax: a function's decorators and signature, a class without its methods' bodies, the module-level
    statements that bind a name."""
    found: dict[str, str] = {}
    if tree is None:
        return found

    def signature(node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
        return ast.dump(ast.Module(body=[*node.decorator_list, node.args, *filter(None, [node.returns])]))

    def visit(body: list[ast.stmt]) -> None:
        for child in body:
            if isinstance(child, FUNCTIONS):
                found[child.name] = signature(child)
            elif isinstance(child, ast.ClassDef):
                shape = [ast.dump(n) for n in [*child.decorator_list, *child.bases, *child.keywords]]
                for member in child.body:
                    if isinstance(member, FUNCTIONS):
                        found[f"{child.name}.{member.name}"] = signature(member)
                        shape.append(f"def {member.name}")
                    else:
                        shape.append(ast.dump(member))
                found[child.name] = "\n".join(shape)
            elif isinstance(child, COMPOUND):
                visit([n for n in ast.iter_child_nodes(child) if isinstance(n, ast.stmt)])
            else:
                for node in ast.walk(child):
                    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                        found[node.id] = found.get(node.id, "") + ast.dump(child)
                for alias in getattr(child, "names", []):
                    if isinstance(alias, ast.alias):
                        name = alias.asname or alias.name
                        found[name] = found.get(name, "") + ast.dump(child)

    visit(tree.body)
    return found


def interface_names(old: ast.Module | None, new: ast.Module | None) -> set[str]:
    """The names whose interface differs between two versions of a module: functions whose decorators or
    signature changed, classes whose shape (bases, attributes, method set) changed, methods (their name and
    their class's), names bound by module-level statements that changed; added or removed ones too."""
    before, after = _interfaces(old), _interfaces(new)
    changed = {key for key in before.keys() | after.keys() if before.get(key) != after.get(key)}
    return {name for key in changed for name in key.split(".")}


def _uses(node: ast.AST, names: set[str]) -> bool:
    return any(
        (isinstance(n, ast.Name) and n.id in names) or (isinstance(n, ast.Attribute) and n.attr in names)
        for n in ast.walk(node)
    )


def _stubbable(tree: ast.Module, changed: set[int], keep: set[str]) -> list[tuple[int, int, int]]:
    """(first body line, last line, body indent) of the outermost functions with no changed line that use
    none of the names in `keep`."""
    spans: list[tuple[int, int, int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, FUNCTIONS):
                first, last = child.body[0].lineno, child.end_lineno or child.lineno
                touched = any(child.lineno <= line <= last for line in changed)
                if not touched and first > child.lineno and not (keep and _uses(child, keep)):
                    spans.append((first, last, child.body[0].col_offset))
                    continue
            visit(child)

    visit(tree)
    return spans


_PARSING = threading.Lock()
"""CPython 3.11 (3.11.7 here) keeps the AST builder's recursion depth per interpreter, not per thread: two
threads parsing at once (the envs of a batched rollout) raise `SystemError: AST constructor recursion depth
mismatch` (python/cpython#106905). One parse at a time."""


def parse(text: str) -> ast.Module | None:
    """The module's syntax tree, or None when `text` does not parse."""
    try:
        with _PARSING:
            return ast.parse(text)
    except (SyntaxError, ValueError):
        return None


def focus(text: str, changed: set[int], tree: ast.Module | None = None, keep: set[str] = frozenset()) -> str:
    """`text` with the bodies of functions that contain no line of `changed` and use no name of `keep`
    replaced by a stub (`tree`: `text` already parsed; a text that does not parse is returned whole)."""
    tree = tree or parse(text)
    if tree is None:
        return text
    spans = _stubbable(tree, changed, set(keep))
    lines = text.splitlines(keepends=True)
    for first, last, indent in spans:
        lines[first - 1] = " " * indent + "raise NotImplementedError\n"
        for index in range(first, last):
            lines[index] = "\n"
    return "".join(lines)
