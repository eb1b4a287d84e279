"""LSPDiagnostics with the real basedpyright language server, on a small package in a LocalSandbox."""

from __future__ import annotations

import os
import shutil
import sys

import gymnasium as gym
import pytest

from prm.agents import ScriptedAgent
from prm.rewards import LSPDiagnostics
from prm.rewards.focus import interface_names, parse
from prm.rewards.langserver import LanguageServer, server_command
from prm.rewards.lsp import _inside_workspace, lsp_reward, seal
from prm.rollout import run_episode
from tests.reward_env import FILES, FIXED, PackageEnv, action

CALC = "pkg/calc.py"
TYPE_ERROR = FIXED + "\n\ndef bad() -> int:\n    return 'not an int'\n"
SYNTAX_ERROR = FIXED + "\n\ndef broken(:\n    pass\n"


def run(env: LSPDiagnostics, actions: list[str]) -> list[dict]:
    env.reset(seed=0)
    infos = []
    for act in actions:
        _, reward, _, _, info = env.step(act)
        info["reward"] = reward
        infos.append(info)
    return infos


@pytest.fixture(scope="module")
def env():
    wrapped = LSPDiagnostics(PackageEnv(), w_err=1.0, w_warn=0.1, w_unsafe=1.0)
    yield wrapped
    wrapped.close()


def test_good_and_bad_edits_move_the_reward_the_right_way(env):
    infos = run(
        env,
        [
            action("view", path=CALC),
            action("write", path=CALC, text=TYPE_ERROR),  # adds a type error
            action("write", path=CALC, text=FIXED),  # removes it
            action("write", path=CALC, text=SYNTAX_ERROR),  # breaks parsing
            action("write", path=CALC, text=FIXED),  # repairs it
        ],
    )
    lsp = [info["reward_components"]["lsp"] for info in infos]
    assert lsp[0] == 0.0  # a view changes nothing
    assert lsp[1] == -1.0 and infos[1]["lsp"]["after"]["errors"] == 1
    assert lsp[2] == 1.0
    assert lsp[3] < -1.0 and infos[3]["lsp"]["unsafe"] == ["broke parsing: pkg/calc.py"]
    assert lsp[4] > 0 and infos[4]["lsp"]["unsafe"] == []
    assert [info["reward"] for info in infos] == lsp  # the env's own reward is 0 before the outcome
    bundle = infos[1]["lsp"]
    assert bundle["server"]["name"] == "basedpyright" and bundle["server"]["version"]
    assert list(bundle["diagnostics"]) == [CALC] and bundle["diagnostics"][CALC][0]["severity"] == "error"
    assert "prm-lsp-" not in str(bundle)  # the mirror's temporary path never leaks into a bundle


def test_bundles_are_deterministic_and_recompute_the_reward_offline(env):
    actions = [
        action("write", path=CALC, text=TYPE_ERROR),
        action("view", path=CALC),
        action("write", path=CALC, text=FIXED),
    ]
    first, second = run(env, actions), run(env, actions)
    assert [i["lsp"]["hash"] for i in first] == [i["lsp"]["hash"] for i in second]
    assert first[0]["lsp"]["hash"] != first[2]["lsp"]["hash"]
    for info in first:
        assert seal(info["lsp"])["hash"] == info["lsp"]["hash"]
        offline = lsp_reward(info["lsp"], w_err=1.0, w_warn=0.1, w_unsafe=1.0)
        assert offline == info["reward_components"]["lsp"]


def test_first_edit_of_a_file_with_existing_errors_is_not_a_regression(env):
    """E_{t-1} of a file seen for the first time is measured on its previous text, not taken as 0."""
    env.reset(seed=0)
    env.unwrapped.sandbox.write_file(CALC, TYPE_ERROR)  # state before the episode's first edit
    env.reset(seed=0)
    _, _, _, _, info = env.step(action("write", path="pkg/other.py", text="y: int = 1\n"))
    assert info["reward_components"]["lsp"] == 0.0
    _, _, _, _, info = env.step(action("write", path=CALC, text=FILES[CALC] + "\nz: str = 'fine'\n"))
    assert info["lsp"]["before"]["errors"] == 0 and info["reward_components"]["lsp"] == 0.0


def test_a_crashed_server_is_restarted_and_the_step_flagged_not_scored(env):
    env.reset(seed=0)
    env.server.process.kill()
    env.server.process.wait()
    _, reward, terminated, truncated, info = env.step(action("write", path=CALC, text=TYPE_ERROR))
    assert info["infra_error"] is True and "lsp" not in info["reward_components"]
    assert reward == 0.0 and not (terminated or truncated)
    assert env.server.alive()
    # the repair is scored against the last scored state (FIXED): break + repair is a net no-op, worth 0
    _, _, _, _, info = env.step(action("write", path=CALC, text=FIXED))
    assert info["infra_error"] is False and info["reward_components"]["lsp"] == 0.0
    assert info["lsp"]["before"]["errors"] == info["lsp"]["after"]["errors"] == 0


def test_a_change_made_during_a_crash_is_scored_with_the_next_step(env):
    env.reset(seed=0)
    env.server.process.kill()
    env.server.process.wait()
    _, _, _, _, info = env.step(action("write", path=CALC, text=TYPE_ERROR))
    assert info["infra_error"] is True
    _, _, _, _, info = env.step(action("write", path="pkg/other.py", text="y: int = 1\n"))
    assert info["reward_components"]["lsp"] == -1.0  # the type error the unscored step added, counted now
    assert sorted(info["lsp"]["files"]) == [CALC, "pkg/other.py"]


class KillsTheServer(ScriptedAgent):
    """Kills the language server before its second action (an infrastructure failure mid-episode)."""

    def __init__(self, env: LSPDiagnostics, actions: list[str]):
        super().__init__(actions)
        self.lsp = env

    def act(self, observation, info):
        if self._next == 1:
            self.lsp.server.process.kill()
            self.lsp.server.process.wait()
        return super().act(observation, info)


def test_the_outcome_record_carries_a_steps_infra_error(env):
    agent = KillsTheServer(
        env,
        [
            action("write", path=CALC, text=TYPE_ERROR),
            action("write", path=CALC, text=FIXED),
            action("submit"),
        ],
    )
    trajectory = run_episode(env, agent, seed=0)
    assert [step.info["infra_error"] for step in trajectory.steps] == [False, True, False]
    assert trajectory.outcome.outcome["reward"] == 1.0 and trajectory.outcome.infra_error is True


class ReportsOutsideWrites(gym.Wrapper):
    """Adds hand-built `outside_writes` to each step's info, as an env that watches the file system would."""

    def __init__(self, env: gym.Env, reports: list[list[str] | None]):
        super().__init__(env)
        self.reports = reports

    def step(self, act):
        observation, reward, terminated, truncated, info = self.env.step(act)
        report = self.reports.pop(0)
        if report is not None:
            info["outside_writes"] = report
        return observation, reward, terminated, truncated, info


def test_writes_outside_the_workspace_are_unsafe_and_a_missing_report_is_unknown():
    reports = [["/tmp/stash"], [], None, ["/etc/cron.d/x", "/tmp/y"]]
    wrapped = LSPDiagnostics(ReportsOutsideWrites(PackageEnv(), reports))
    try:
        infos = run(wrapped, [action("view", path=CALC)] * 3 + [action("write", path=CALC, text=FIXED)])
    finally:
        wrapped.close()
    assert [info["reward_components"]["lsp"] for info in infos] == [-1.0, 0.0, 0.0, -1.0]
    assert infos[0]["lsp"]["unsafe"] == ["outside the workspace: /tmp/stash"]
    assert [info["lsp"]["outside_writes"] for info in infos[1:3]] == [[], None]  # none vs unknown
    assert len(infos[3]["lsp"]["unsafe"]) == 2


def test_the_server_is_the_running_interpreters_not_the_first_on_path(tmp_path, monkeypatch):
    """A different `basedpyright-langserver` first on PATH (another installation's) is never started."""
    marker = tmp_path / "started"
    impostor = tmp_path / "bin" / "basedpyright-langserver"
    impostor.parent.mkdir()
    impostor.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    impostor.chmod(0o755)
    monkeypatch.setenv("PATH", f"{impostor.parent}:{os.environ['PATH']}")
    assert shutil.which("basedpyright-langserver") == str(impostor)
    assert server_command()[0] == sys.executable
    with LanguageServer(tmp_path) as server:
        uri = server.set_text("m.py", "x: int = 'a'\n")
        assert [d["severity"] for d in server.diagnostics(uri)] == [1]
    assert not marker.exists()


def test_paths_outside_the_workspace_are_unsafe():
    assert _inside_workspace("pkg/../pkg/calc.py") == "pkg/calc.py"
    assert _inside_workspace("../etc/passwd") is None and _inside_workspace("/etc/passwd") is None
    bundle = {"before": {"errors": 0, "warnings": 0}, "after": {"errors": 0, "warnings": 0}, "unsafe": ["x"]}
    assert lsp_reward(bundle, w_err=1.0, w_warn=0.1, w_unsafe=2.0) == -2.0


def test_only_the_changed_code_is_counted_and_stubs_cause_no_false_errors(env):
    """Pre-existing errors in untouched functions are in neither count; calls to stubbed helpers stay clean."""
    module = (
        "def helper(x):\n    return [x]\n\n\n"
        "def legacy() -> int:\n    return 'old error'\n\n\n"
        "def use(x):\n    items = helper(x)\n    return items[0]\n"
    )
    env.reset(seed=0)
    env.step(action("write", path="pkg/mod.py", text=module))
    edited = module.replace("return items[0]", "return items[0] + len(items)")
    _, _, _, _, info = env.step(action("write", path="pkg/mod.py", text=edited))
    assert info["lsp"]["before"] == info["lsp"]["after"] == {"errors": 0, "warnings": 0}
    assert info["reward_components"]["lsp"] == 0.0
    broken = edited.replace("return items[0] + len(items)", "return items[0] + len(3)")
    _, _, _, _, info = env.step(action("write", path="pkg/mod.py", text=broken))
    assert info["lsp"]["after"]["errors"] == 1 and info["reward_components"]["lsp"] == -1.0
    assert info["lsp"]["diagnostics"]["pkg/mod.py"][0]["line"] == 10  # the file's own line numbers


def test_deleting_a_file_removes_its_errors(env):
    env.reset(seed=0)
    _, _, _, _, info = env.step(action("write", path="pkg/bad.py", text="x: int = 'a'\n"))
    assert info["reward_components"]["lsp"] == -1.0
    _, _, _, _, info = env.step(action("remove", path="pkg/bad.py"))
    assert info["reward_components"]["lsp"] == 1.0 and info["lsp"]["files"] == {"pkg/bad.py": None}


def test_a_syntax_breaks_penalty_does_not_grow_with_the_files_old_errors(env):
    """The unparsable side is checked whole; only its changed lines count, as on the focused side."""
    legacy = "".join(f"\n\ndef legacy{i}() -> int:\n    return 'old error'\n" for i in range(6))

    def break_and_repair(base: str) -> list[float]:
        infos = run(
            env,
            [
                action("write", path="pkg/mod.py", text=base),
                action("write", path="pkg/mod.py", text=base + "\n\ndef broken(:\n    pass\n"),
                action("write", path="pkg/mod.py", text=base),
            ],
        )
        return [info["reward_components"]["lsp"] for info in infos[1:]]

    clean, old_errors = break_and_repair(FIXED), break_and_repair(FIXED + legacy)
    assert clean == old_errors
    assert clean[0] <= -2.0 and sum(clean) == -1.0  # the break's own errors, then the unsafe term stays


def test_a_signature_change_checks_the_callers_in_untouched_functions(env):
    module = (
        "def area(width: int) -> int:\n    return width * width\n\n\n"
        "def report() -> str:\n    return str(area(3))\n\n\n"
        "def unrelated() -> int:\n    return 1\n"
    )
    resized = module.replace("(width: int)", "(width: int = 1)")
    assert interface_names(parse(module), parse(resized)) == {"area"}
    body_edit = module.replace("return 1", "return 2")
    assert interface_names(parse(module), parse(body_edit)) == set()  # a body edit changes no interface
    env.reset(seed=0)
    env.step(action("write", path="pkg/shapes.py", text=module))
    changed = module.replace("def area(width: int)", "def area(width: int, height: int)")
    _, _, _, _, info = env.step(action("write", path="pkg/shapes.py", text=changed))
    assert info["reward_components"]["lsp"] == -1.0  # report() no longer calls area() correctly
    assert info["lsp"]["diagnostics"]["pkg/shapes.py"][0]["code"] == "reportCallIssue"


def test_the_focused_check_agrees_with_a_whole_file_check_on_a_version_switch(env):
    """six's pattern (`binary_type` is bytes or str by a runtime switch): Pyright itself reports
    `s.decode` after `isinstance(s, binary_type)` as an error in a whole-file check, so the gold edit of
    six-ensure-str-bytes scores -1 because of Pyright, not because of focusing."""
    module = (
        "import sys\n\nPY3 = sys.version_info[0] == 3\nif PY3:\n    binary_type = bytes\nelse:\n"
        "    binary_type = str\n\n\ndef legacy() -> int:\n    return 'old'\n\n\n"
        "def ensure_str(s):\n    if isinstance(s, binary_type):\n        return str(s)\n    return s\n"
    )
    fixed = module.replace("return str(s)", "return s.decode('utf-8')")
    with LanguageServer(env._mirror) as server:
        whole = [
            sum(d["severity"] == 1 for d in server.diagnostics(server.set_text("six_like.py", text)))
            for text in (module, fixed)
        ]
    env.reset(seed=0)
    env.step(action("write", path="pkg/six_like.py", text=module))
    _, _, _, _, info = env.step(action("write", path="pkg/six_like.py", text=fixed))
    assert info["reward_components"]["lsp"] == -(whole[1] - whole[0]) == -1.0


def test_a_signature_change_checks_importers_in_other_files(env):
    shapes = "def area(width: int) -> int:\n    return width * width\n"
    user = "from pkg.shapes import area\n\n\ndef report() -> str:\n    return str(area(3))\n"
    env.reset(seed=0)
    env.step(action("write", path="pkg/shapes.py", text=shapes))
    env.step(action("write", path="pkg/user.py", text=user))
    body_only = shapes.replace("width * width", "width * width + 0")
    _, _, _, _, info = env.step(action("write", path="pkg/shapes.py", text=body_only))
    assert list(info["lsp"]["diagnostics"]) == ["pkg/shapes.py"]  # no interface change: importers not checked
    changed = body_only.replace("(width: int)", "(width: int, height: int)")
    _, _, _, _, info = env.step(action("write", path="pkg/shapes.py", text=changed))
    assert info["reward_components"]["lsp"] == -1.0
    assert info["lsp"]["diagnostics"]["pkg/user.py"][0]["code"] == "reportCallIssue"
    _, _, _, _, info = env.step(action("write", path="pkg/shapes.py", text=body_only))
    assert info["reward_components"]["lsp"] == 1.0  # restoring the signature repairs the caller
