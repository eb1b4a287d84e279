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
    """A random-weight tiny model and one fitted for seconds on search-QA oracle trajectories."""
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
    fit_on_trajectories(model, tokenizer, oracle, steps=400, max_seconds=40).save(root / "fitted")
    return TinyModels(random=root / "random", fitted=root / "fitted", scenarios=scenarios)
