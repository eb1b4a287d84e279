"""`LSPDiagnostics`: process reward from a real Pyright language server's diagnostics (Lanser-CLI style).

Paper: "Language Server CLI Empowers Language Agents with Process Rewards" (Lanser-CLI). After each step that
changes files, with E and W the numbers of errors and warnings that Pyright reports in the code the step
changed, before (E_{t-1}, W_{t-1}) and after (E_t, W_t) the step:

    r_t = w_err * (E_{t-1} - E_t) + w_warn * (W_{t-1} - W_t) - w_unsafe * [unsafe_t]

where unsafe_t means the edit broke parsing of a Python file that parsed before, or wrote a path outside
the workspace. Writes outside the workspace are read from `info["outside_writes"]` (a list of paths the env
reports from a source the agent cannot forge, [] when none) plus any changed path that leaves the workspace.
A missing `outside_writes` key means the env does not know (no information, not "no writes"): the bundle then
records `"outside_writes": None`, so a reader can tell "unknown" from "none". Steps that change no file and
write nothing outside score 0.

How it runs: at reset the workspace's Python files are mirrored from the sandbox (`sandbox.read_file`) into
a host directory, and a `basedpyright-langserver` is started on it (kept warm for the episode). A step's
changed files (`info["changed_files"]`) are read from the sandbox, written to the mirror and sent to the
server (`didChange`); only they are analysed, each twice: its previous and its new text, both focused on
the change (`prm.rewards.focus`: bodies of functions the edit did not touch are stubbed, everything else and
every line position stays), which is what keeps a warm check of a 1,000-line file near 50 ms instead of
0.5 s. E_{t-1} and E_t are counted on those two documents, so they measure what the edit did: errors in
untouched function bodies are in neither. An edit that changes an interface (a signature, a class shape, a
module-level name) keeps, on both sides, the bodies in the file that use the changed names, so its callers
there are checked (`prm.rewards.focus.interface_names`), and so are up to 8 other workspace files that
import the changed module and name a changed name (their diagnostics before and after the step count too). A text that does not parse cannot be focused (it is checked
whole); then, on both sides of that file, only diagnostics on the changed lines count, so breaking (or
repairing) the syntax of a file costs (or earns) what the break itself causes there, plus the unsafe term,
whatever old errors the rest of the file has. Diagnostics are the server's, pulled once checked
(`prm.rewards.langserver`).

Every step's `info["lsp"]` is an analysis bundle: server name and version, sha256 of each changed file's
content, the normalised diagnostics (errors and warnings; paths relative to the workspace; sorted), the
before/after counts and the unsafe reasons, plus `hash` (sha256 of the rest). `lsp_reward(bundle, ...)`
recomputes r_t from a bundle alone (`prm rescore`); the same edit from the same state gives the same hash.

A server that crashes or hangs mid-episode is restarted; that step is flagged `info["infra_error"]` and
gets no `lsp` component (never a score). Its change is scored with the next scored step, against the last
scored state (not the unscored one), so the episode's lsp rewards still sum to what the edits did: a break
during a crash and its repair afterwards sum to 0, not to the repair's credit.

>>> import gymnasium as gym, prm
>>> from prm.rewards import LSPDiagnostics
>>> env = LSPDiagnostics(gym.make("prm/swe-v0", scenario="toolz-groupby-key"), w_warn=0.1)  # doctest: +SKIP
>>> obs, info = env.reset(seed=0)  # doctest: +SKIP
>>> obs, reward, *_, info = env.step(an_edit_that_adds_a_type_error)  # doctest: +SKIP
>>> info["reward_components"]["lsp"], info["lsp"]["after"]  # doctest: +SKIP
(-1.0, {'errors': 1, 'warnings': 0})
>>> lsp_reward({"before": {"errors": 2, "warnings": 0}, "after": {"errors": 0, "warnings": 1},
...             "unsafe": []}, w_err=1.0, w_warn=0.1, w_unsafe=1.0)
1.9
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import posixpath
import re
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym

from prm.errors import PathEscapeError, RewardSpecError
from prm.rewards.base import StepSignal
from prm.rewards.focus import changed_lines, focus, interface_names, parse
from prm.rewards.langserver import LanguageServer, LanguageServerError, server_command

PYTHON_SUFFIXES = (".py", ".pyi")
WARMUP_DOCUMENT = "__prm_warmup__.py"
WARMUP_MODULES = 300
MAX_IMPORTERS = 8
SEVERITIES = {1: "error", 2: "warning"}
MIRROR_FIND = (
    "find . -type f \\( -name '*.py' -o -name '*.pyi' \\) -size -1024k -not -path '*/.*' "
    "-not -path '*/__pycache__/*' -not -path '*/node_modules/*' | head -n 5000"
)


def lsp_reward(bundle: dict[str, Any], *, w_err: float, w_warn: float, w_unsafe: float) -> float:
    """r_t from an analysis bundle (see the module docstring)."""
    before, after = bundle["before"], bundle["after"]
    value = w_err * (before["errors"] - after["errors"]) + w_warn * (before["warnings"] - after["warnings"])
    return round(value - w_unsafe * bool(bundle["unsafe"]), 12)


def normalise(diagnostics: list[dict], root: Path) -> list[dict]:
    """Errors and warnings only, as plain sorted records with the mirror's path taken out of messages."""
    prefixes = (root.as_uri() + "/", str(root) + "/")
    records = []
    for diagnostic in diagnostics:
        severity = SEVERITIES.get(diagnostic.get("severity", 1))
        if severity is None:
            continue
        message = diagnostic.get("message", "")
        for prefix in prefixes:
            message = message.replace(prefix, "")
        start, end = diagnostic["range"]["start"], diagnostic["range"]["end"]
        records.append(
            {
                "line": start["line"],
                "character": start["character"],
                "end_line": end["line"],
                "end_character": end["character"],
                "severity": severity,
                "code": str(diagnostic.get("code", "")),
                "message": message,
            }
        )
    return sorted(records, key=lambda r: (r["line"], r["character"], r["severity"], r["code"], r["message"]))


def _counts(diagnostics_by_file: dict[str, list[dict]]) -> dict[str, int]:
    flat = [d for records in diagnostics_by_file.values() for d in records]
    return {
        "errors": sum(d["severity"] == "error" for d in flat),
        "warnings": sum(d["severity"] == "warning" for d in flat),
    }


def _within(diagnostics: list[dict], lines: set[int]) -> list[dict]:
    """The diagnostics that start on one of `lines` (1-based)."""
    return [d for d in diagnostics if d["line"] + 1 in lines]


def _inside_workspace(path: str) -> str | None:
    """The normalised workspace-relative path, or None when `path` leaves the workspace."""
    if posixpath.isabs(path):
        return None
    normal = posixpath.normpath(path)
    return None if normal == ".." or normal.startswith("../") else normal


def _module_name(path: str) -> list[str]:
    """The dotted module name of a workspace path, as a one-element list ([] when it is not importable)."""
    parts = path.removesuffix(".pyi").removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return [".".join(parts)] if parts and all(part.isidentifier() for part in parts) else []


def seal(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle with `hash`: sha256 of its canonical JSON (without any previous hash)."""
    body = {key: value for key, value in bundle.items() if key != "hash"}
    digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return {**body, "hash": digest}


class LSPDiagnostics(StepSignal):
    """Diagnostic deltas and safe-apply checks from a warm basedpyright server (see the module docstring).

    Needs the env hook `sandbox` (read_file, exec) and `changed_files` in each step's info.
    """

    name: ClassVar[str] = "lsp"

    def __init__(
        self,
        env: gym.Env,
        *,
        weight: float = 1.0,
        w_err: float = 1.0,
        w_warn: float = 0.1,
        w_unsafe: float = 1.0,
        timeout: float = 60.0,
    ):
        super().__init__(env, weight=weight)
        if not hasattr(env.unwrapped, "sandbox"):
            raise RewardSpecError(
                f"lsp needs an env with a sandbox hook (e.g. prm/swe-v0); {type(env.unwrapped).__name__} has none"
            )
        try:
            server_command()
        except LanguageServerError as err:
            raise RewardSpecError(f"lsp needs the basedpyright language server: {err}") from err
        self.w_err, self.w_warn, self.w_unsafe, self.timeout = w_err, w_warn, w_unsafe, timeout
        self.server: LanguageServer | None = None
        self._last: dict[str, tuple[str, list[dict]]] = {}  # path -> last document checked, its diagnostics
        self._modules: list[str] = []  # the workspace's importable modules (for the warm-up)
        self._files: list[str] = []  # the workspace's Python files in the mirror (for importers)
        self._mirror: Path | None = None  # host copy of the workspace's Python files, made at reset
        self._unscored: dict[str, str | None] = {}  # path -> its last scored text, for changes not yet scored

    # --- episode ---------------------------------------------------------------------------------
    def _on_reset(self, observation: Any, info: dict[str, Any]) -> None:
        sandbox = self.env.unwrapped.sandbox
        if self._mirror is not None:
            shutil.rmtree(self._mirror, ignore_errors=True)
        self._mirror = Path(tempfile.mkdtemp(prefix="prm-lsp-"))
        self._unscored = {}
        listing = sandbox.exec(MIRROR_FIND, timeout=60)
        self._modules, self._files = [], []
        for line in sorted(listing.stdout.splitlines()):
            path = _inside_workspace(line.strip().removeprefix("./"))
            if path:
                self._write_mirror(path, sandbox.read_file(path).decode("utf-8", errors="replace"))
                self._modules += _module_name(path)
                self._files.append(path)
        self._restart()
        self._server_info = self.server.server_info()

    def _write_mirror(self, path: str, text: str | None) -> None:
        target = self._mirror / path
        if text is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def _read_mirror(self, path: str) -> str | None:
        target = self._mirror / path
        return target.read_text(encoding="utf-8") if target.is_file() else None

    # --- a step ------------------------------------------------------------------------------------
    def _value(self, action: Any, observation: Any, info: dict[str, Any]) -> float | None:
        changed = list(info.get("changed_files") or [])
        if info.get("infra_error") and not changed:
            return None
        try:
            bundle = self._analyse(changed, info.get("outside_writes"))
        except LanguageServerError as err:
            info["infra_error"] = True
            info["error"] = info.get("error") or f"language server failed (restarted): {err}"
            info["lsp"] = {"infra_error": str(err), "server": self._server_info}
            with contextlib.suppress(LanguageServerError):  # still down: the next edit step is flagged too
                self._restart()
            return None
        info["lsp"] = bundle
        return lsp_reward(bundle, w_err=self.w_err, w_warn=self.w_warn, w_unsafe=self.w_unsafe)

    def _analyse(self, changed: list[str], outside_writes: list[str] | None) -> dict[str, Any]:
        sandbox = self.env.unwrapped.sandbox
        unsafe = [f"outside the workspace: {path}" for path in outside_writes or []]
        texts: dict[str, tuple[str | None, str | None]] = {}  # path -> (last scored text, new text)
        for raw in changed:
            path = _inside_workspace(raw)
            if path is None:
                unsafe.append(f"outside the workspace: {raw}")
                continue
            try:
                new = sandbox.read_file(path).decode("utf-8", errors="replace")
            except FileNotFoundError:
                new = None
            except PathEscapeError:
                unsafe.append(f"outside the workspace: {raw}")
                continue
            old = self._unscored[path] if path in self._unscored else self._read_mirror(path)
            self._write_mirror(path, new)
            texts[path] = (old, new)
            if new is not None and path.endswith(PYTHON_SUFFIXES) and path not in self._files:
                self._files.append(path)
        for path, old in self._unscored.items():  # changed by a step the server failed on, not since
            texts.setdefault(path, (old, self._read_mirror(path)))
        try:
            bundle = self._score(texts, unsafe)
        except LanguageServerError:
            self._unscored = {path: old for path, (old, _) in texts.items()}
            raise
        self._unscored = {}
        bundle["outside_writes"] = outside_writes
        return seal(bundle)

    def _score(self, texts: dict[str, tuple[str | None, str | None]], unsafe: list[str]) -> dict[str, Any]:
        """The bundle (unsealed) of a step that took each path of `texts` from its old to its new text."""
        files: dict[str, str | None] = {}  # path -> sha256 of its new content (None: deleted)
        documents: dict[str, tuple[str | None, str | None]] = {}  # path -> focused (old, new) text
        regions: dict[str, tuple[set[int], set[int]]] = {}  # path -> changed lines, if a side does not parse
        interface: set[str] = set()  # names whose interface the step changed, in any file
        for path, (old, new) in texts.items():
            if path.endswith(PYTHON_SUFFIXES):
                old_tree, new_tree = parse(old or ""), parse(new or "")
                if old_tree is not None and new_tree is None:
                    unsafe.append(f"broke parsing: {path}")
                old_lines, new_lines = changed_lines(old or "", new or "")
                keep = interface_names(old_tree, new_tree)
                interface |= keep
                documents[path] = (
                    None if old is None else focus(old, old_lines, old_tree, keep),
                    None if new is None else focus(new, new_lines, new_tree, keep),
                )
                if (old is not None and old_tree is None) or (new is not None and new_tree is None):
                    regions[path] = (old_lines, new_lines)
                files[path] = None if new is None else hashlib.sha256(new.encode()).hexdigest()
        if len(texts) != 1 or not documents:
            self._last = {}  # other files changed: a document's diagnostics may differ now
        before, after = self._check(documents, self._importers(documents, interface))
        for path, (old_lines, new_lines) in regions.items():
            before[path] = _within(before[path], old_lines)
            after[path] = _within(after[path], new_lines)
        return {
            "server": self._server_info,
            "files": dict(sorted(files.items())),
            "diagnostics": {path: after[path] for path in sorted(after)},
            "before": _counts(before),
            "after": _counts(after),
            "unsafe": unsafe,
        }

    def _check(
        self, documents: dict[str, tuple[str | None, str | None]], importers: dict[str, str]
    ) -> tuple[dict[str, list[dict]], dict[str, list[dict]]]:
        """Diagnostics of each changed file's focused documents, and of the importers' (unchanged) documents,
        before and after the step."""
        if documents and (self.server is None or not self.server.alive()):
            raise LanguageServerError("the language server is not running")
        before, after = {}, {}
        for path, (old, _) in documents.items():
            before[path] = self._diagnose(path, old) if old is not None else []
        for path, text in importers.items():  # importers, against the changed files' old documents
            before[path] = self._diagnose(path, text, cached=False)
        for path, (_, new) in documents.items():
            after[path] = self._diagnose(path, new) if new is not None else []
            if new is None:
                self.server.delete(path)
                self._last.pop(path, None)
        for path, text in importers.items():
            after[path] = self._diagnose(path, text, cached=False)
        return before, after

    def _importers(
        self, documents: dict[str, tuple[str | None, str | None]], names: set[str]
    ) -> dict[str, str]:
        """Focused documents of up to MAX_IMPORTERS other workspace files that import a changed module and
        name one of the changed interface `names` (their uses are kept, other bodies stubbed)."""
        modules = {module.rpartition(".")[2] for path in documents for module in _module_name(path)}
        if not names or not modules:
            return {}
        imports = re.compile(rf"^\s*(from|import)\s.*\b({'|'.join(map(re.escape, modules))})\b", re.MULTILINE)
        uses = re.compile(rf"\b({'|'.join(map(re.escape, names))})\b")
        found: dict[str, str] = {}
        for path in self._files:
            if len(found) >= MAX_IMPORTERS:
                break
            text = None if path in documents else self._read_mirror(path)
            if text is not None and imports.search(text) and uses.search(text):
                found[path] = focus(text, set(), keep=names)
        return found

    def _diagnose(self, path: str, text: str, *, cached: bool = True) -> list[dict]:
        """Diagnostics of `text` as the content of `path`; the same document as the last one checked for this
        path (e.g. the previous edit's result, when this edit is in the same function) is not checked again
        (unless `cached` is False: an importer's diagnostics change with the files it imports)."""
        last = self._last.get(path)
        if cached and last is not None and last[0] == text:
            return last[1]
        diagnostics = normalise(self.server.diagnostics(self.server.set_text(path, text)), self._mirror)
        self._last[path] = (text, diagnostics)
        return diagnostics

    def _restart(self) -> None:
        """A fresh server on the (up to date) mirror."""
        self._last = {}
        if self.server is not None:
            self.server.shutdown()
        self.server = LanguageServer(self._mirror, timeout=self.timeout)
        threading.Thread(target=self._warm_up, args=(self.server, self._modules), daemon=True).start()

    @staticmethod
    def _warm_up(server: LanguageServer, modules: list[str]) -> None:
        """Checks, in the background, an in-memory document importing the workspace's modules, so builtins,
        typeshed and the repository are parsed before the first edit (while the agent thinks)."""
        text = "".join(f"import {module}\n" for module in ["os", "sys", "typing", *modules[:WARMUP_MODULES]])
        with contextlib.suppress(LanguageServerError):
            server.diagnostics(server.set_text(WARMUP_DOCUMENT, text))

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server = None
        if self._mirror is not None:
            shutil.rmtree(self._mirror, ignore_errors=True)
            self._mirror = None
        super().close()
