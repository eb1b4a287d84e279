"""LSPDiagnostics with the real basedpyright language server, on a small package in a LocalSandbox."""

from __future__ import annotations

import pytest

from prm.rewards import LSPDiagnostics
from prm.rewards.lsp import _inside_workspace, lsp_reward, seal
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
    _, _, _, _, info = env.step(action("write", path=CALC, text=FIXED))
    assert info["infra_error"] is False and info["reward_components"]["lsp"] == 1.0


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
