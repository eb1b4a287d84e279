"""Session fixtures for the model-agent tests: tiny models built here (no model hub), once per test session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

SCENARIOS = 16


@dataclass(frozen=True)
class TinyModels:
    random: Path
    fitted: Path
    scenarios: list[str]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> TinyModels:
    """A random-weight tiny model and one fitted on search-QA oracle trajectories (400 updates, a few seconds;
    no wall-clock cap, so a loaded machine fits as far, only slower)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)  # the test machine is shared: one thread is faster than contended two
    import prm  # noqa: F401
    from prm.agents import OracleAgent
    from prm.agents.tiny import build_tiny_model, fit_on_trajectories
    from prm.envs.search_qa import scenario_ids
    from prm.rollout import rollout

    scenarios = scenario_ids()[:SCENARIOS]
    oracle = rollout(
        "prm/search-qa-v0", OracleAgent(), scenarios=scenarios, episodes=SCENARIOS, show_progress=False
    )
    root = tmp_path_factory.mktemp("tiny-models")
    model, tokenizer = build_tiny_model(oracle, root / "random", hidden=64)
    fit_on_trajectories(model, tokenizer, oracle, steps=400, max_seconds=float("inf")).save(root / "fitted")
    return TinyModels(random=root / "random", fitted=root / "fitted", scenarios=scenarios)


SWE_SCENARIO = "toolz-groupby-key"


@pytest.fixture(scope="session")
def tiny_swe_model(docker_engine, tmp_path_factory) -> Path:
    """A tiny model fitted on the oracle's Docker episode of `SWE_SCENARIO` (its gold `edit`, then `submit`).

    Every SWE prompt ends with the same tool manual, so the fit takes whole prompts (`prompt_tail=None`); a
    context of 512 tokens with 192 for the completion holds the task and a whole `edit` call. It stops once
    the loss is near zero (no wall-clock budget: a loaded machine fits as far, only slower)."""
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)
    import prm  # noqa: F401
    from prm.agents import OracleAgent
    from prm.agents.tiny import build_tiny_model, fit_on_trajectories
    from prm.rollout import rollout

    oracle = rollout(
        "prm/swe-v0",
        OracleAgent(),
        scenarios=SWE_SCENARIO,
        env_kwargs={"sandbox": "docker"},
        show_progress=False,
    )
    assert oracle[0].outcome.outcome["resolved"], "the oracle episode the model is fitted on must resolve"
    model, tokenizer = build_tiny_model(oracle, context_tokens=512, max_new_tokens=192)
    fitted = fit_on_trajectories(
        model, tokenizer, oracle, steps=400, max_seconds=float("inf"), prompt_tail=None, until_loss=0.005
    )
    return fitted.save(tmp_path_factory.mktemp("tiny-swe-model"))
