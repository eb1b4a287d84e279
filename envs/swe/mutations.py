"""AST mutation operators that plant a bug in one Python module: the candidates of `prm scenario synth`.

Each operator walks the module's syntax tree (`ast`) and yields one `Mutation` per site it can change; the
mutated source replaces only the changed node's text (or deletes the statement's lines), so the rest of
the file keeps its formatting and the diff is as small as a hand-made bug. The kinds (SWE-smith's
procedural bugs, Jia and Harman's classic mutation operators):

- `flip_comparison`: one comparison operator turned into its boundary or negated twin
  (`<` -> `<=`, `>=` -> `>`, `==` -> `!=`, `in` -> `not in`, `is` -> `is not`, and back);
- `off_by_one`: an integer literal in arithmetic, an index, a slice or `range(...)` moved by one;
- `drop_branch`: an `if` statement without `else` deleted (its guard and its body);
- `swap_arguments`: the first two positional arguments of a call exchanged;
- `wrong_default`: a literal default of a parameter changed (`True` <-> `False`, n -> n + 1, "s" -> "");
- `remove_call`: a call made for its effect (an expression statement) deleted.

A statement is deleted only when its block keeps another statement, and every mutated source must parse.

Example:
    >>> source = "def last(xs, n=1):\\n    if not xs:\\n        return None\\n    return xs[len(xs) - 1]\\n"
    >>> sorted({m.kind for m in mutations(source)})
    ['drop_branch', 'off_by_one', 'wrong_default']
    >>> [m.after for m in mutations(source) if m.kind == "wrong_default"][0].splitlines()[0]
    'def last(xs, n=2):'
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_FLIPS: dict[type, type] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}


@dataclass(frozen=True)
class Mutation:
    """One planted bug: the operator's `kind`, the first changed line (1-based) and the whole mutated source."""

    kind: str
    line: int
    after: str


class _Source:
    """The module's text with helpers to replace a node's span or delete a statement's lines."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self._starts = [0]
        for line in self.lines:
            self._starts.append(self._starts[-1] + len(line))

    def _offset(self, line: int, col: int) -> int:
        # ast columns are UTF-8 byte offsets
        return self._starts[line - 1] + len(self.lines[line - 1].encode()[:col].decode(errors="replace"))

    def replace(self, node: ast.AST, new: ast.AST) -> str:
        start = self._offset(node.lineno, node.col_offset)
        end = self._offset(node.end_lineno, node.end_col_offset)
        return self.text[:start] + ast.unparse(new) + self.text[end:]

    def delete(self, stmt: ast.stmt) -> str | None:
        """The text without `stmt`'s lines; None when the statement shares a line with other code."""
        first, last = self.lines[stmt.lineno - 1], self.lines[stmt.end_lineno - 1]
        before = first.encode()[: stmt.col_offset].decode(errors="replace")
        after = last.encode()[stmt.end_col_offset :].decode(errors="replace")
        if before.strip() or after.strip().split("#", 1)[0].strip():
            return None
        return "".join(self.lines[: stmt.lineno - 1] + self.lines[stmt.end_lineno :])


def _copy(node: ast.AST) -> ast.AST:
    return ast.parse(ast.unparse(node), mode="eval").body if isinstance(node, ast.expr) else node


def _flip_comparison(tree: ast.AST, src: _Source) -> Iterator[tuple[ast.AST, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _FLIPS:
            new = _copy(node)
            new.ops = [_FLIPS[type(node.ops[0])]()]
            yield node, src.replace(node, new)


def _int_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _off_by_one(tree: ast.AST, src: _Source) -> Iterator[tuple[ast.AST, str]]:
    sites: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv)):
            sites += [side for side in (node.left, node.right) if _int_literal(side)]
        elif isinstance(node, ast.Subscript):
            parts = (
                [node.slice.lower, node.slice.upper] if isinstance(node.slice, ast.Slice) else [node.slice]
            )
            sites += [part for part in parts if part is not None and _int_literal(part)]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
            sites += [arg for arg in node.args if _int_literal(arg)]
    for site in sites:
        yield site, src.replace(site, ast.Constant(site.value + 1))


def _blocks(tree: ast.AST) -> Iterator[list[ast.stmt]]:
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            block = getattr(node, name, None)
            if isinstance(block, list) and len(block) > 1 and isinstance(block[0], ast.stmt):
                yield block


def _drop_branch(tree: ast.AST, src: _Source) -> Iterator[tuple[ast.AST, str | None]]:
    for block in _blocks(tree):
        for stmt in block:
            if isinstance(stmt, ast.If) and not stmt.orelse:
                yield stmt, src.delete(stmt)


def _remove_call(tree: ast.AST, src: _Source) -> Iterator[tuple[ast.AST, str | None]]:
    for block in _blocks(tree):
        for stmt in block:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
                yield stmt, src.delete(stmt)


def _swap_arguments(tree: ast.AST, src: _Source) -> Iterator[tuple[ast.AST, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and len(node.args) >= 2:
            first, second = node.args[0], node.args[1]
            if isinstance(first, ast.Starred) or isinstance(second, ast.Starred):
                continue
            if ast.dump(first) == ast.dump(second):
                continue
            new = _copy(node)
            new.args[0], new.args[1] = new.args[1], new.args[0]
            yield node, src.replace(node, new)


def _wrong_value(value: object) -> object:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str) and value:
        return ""
    return None


def _wrong_default(tree: ast.AST, src: _Source) -> Iterator[tuple[ast.AST, str]]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for default in [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]:
                if isinstance(default, ast.Constant) and _wrong_value(default.value) is not None:
                    yield default, src.replace(default, ast.Constant(_wrong_value(default.value)))


OPERATORS: dict[str, Callable[[ast.AST, _Source], Iterator[tuple[ast.AST, str | None]]]] = {
    "flip_comparison": _flip_comparison,
    "off_by_one": _off_by_one,
    "drop_branch": _drop_branch,
    "swap_arguments": _swap_arguments,
    "wrong_default": _wrong_default,
    "remove_call": _remove_call,
}
"""Mutation kind -> operator; `prm scenario synth --kinds` picks among these names."""


def _parses(text: str) -> bool:
    try:
        ast.parse(text)
    except (SyntaxError, ValueError):
        return False
    return True


def mutations(source: str, kinds: list[str] | None = None) -> list[Mutation]:
    """Every mutation of `source` by the operators `kinds` (default: all), in source order per kind.

    Returns nothing for a module that does not parse; skips sites whose mutated text would not parse or
    would equal the original."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    src = _Source(source)
    found = []
    for kind in kinds or list(OPERATORS):
        for node, after in OPERATORS[kind](tree, src):
            if after is not None and after != source and _parses(after):
                found.append(Mutation(kind, node.lineno, after))
    return found
