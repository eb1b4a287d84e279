"""`ValueModel`: a small torch model V(s) over the text of a state, fitted on Monte Carlo labels.

Features: hashed character 3-grams of the state text (`prm.rewards.state_text`; crc32 buckets, log counts,
L2-normalised), then a two-layer MLP with a sigmoid output. `fit_value_model` trains it on recorded
trajectories: every state s_t of an episode is labelled with the episode's outcome reward (the Monte Carlo
return from s_t), mean-squared error, Adam. `prm train-value TRAJ... --out value.pt` runs it; then
`progress:value:model=value.pt` uses it as the estimator of `ProgressReward`.

torch is imported only here (the `ml` extra).

>>> model = fit_value_model(trajectories, epochs=100)  # doctest: +SKIP
>>> model.save("value.pt"); ValueModel.load("value.pt").predict(["some state text"])  # doctest: +SKIP
[0.42]
"""

from __future__ import annotations

import math
import pickle
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym

from prm.errors import RewardSpecError
from prm.models import Trajectory
from prm.rewards.state_text import state_text, trajectory_states


def _torch() -> Any:
    try:
        import torch
    except ImportError as err:
        raise RewardSpecError(f"the value model needs torch: pip install 'prm-gym[ml]' ({err})") from err
    return torch


def featurize(texts: Sequence[str], dim: int) -> Any:
    """Hashed character 3-gram features, one row per text (a float tensor of shape [len(texts), dim])."""
    torch = _torch()
    rows = torch.zeros(len(texts), dim)
    for row, text in enumerate(texts):
        counts: dict[int, int] = {}
        for i in range(max(0, len(text) - 2)):
            bucket = zlib.crc32(text[i : i + 3].encode()) % dim
            counts[bucket] = counts.get(bucket, 0) + 1
        for bucket, count in counts.items():
            rows[row, bucket] = math.log1p(count)
    return torch.nn.functional.normalize(rows, dim=1)


class ValueModel:
    """V(s) = sigmoid(MLP(features(state text))); a `ValueEstimator` for progress and shaping."""

    only_after_changes = False

    def __init__(self, dim: int = 4096, hidden: int = 64, seed: int = 0):
        torch = _torch()
        torch.manual_seed(seed)
        self.dim, self.hidden = dim, hidden
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
        )

    def predict(self, texts: Sequence[str]) -> list[float]:
        torch = _torch()
        with torch.no_grad():
            return torch.sigmoid(self.net(featurize(texts, self.dim))).squeeze(1).tolist()

    def check(self, env: gym.Env) -> None:
        """Any text env works (reads `task`, `tools` and `history`)."""

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float:
        return self.predict([state_text(env)])[0]

    def save(self, path: str | Path) -> Path:
        torch = _torch()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"dim": self.dim, "hidden": self.hidden, "state_dict": self.net.state_dict()}, path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> ValueModel:
        torch = _torch()
        try:
            saved = torch.load(Path(path), map_location="cpu", weights_only=True)
            model = cls(dim=saved["dim"], hidden=saved["hidden"])
            model.net.load_state_dict(saved["state_dict"])
        except (OSError, KeyError, RuntimeError, pickle.UnpicklingError) as err:
            raise RewardSpecError(
                f"cannot load value model '{path}' (write one with `prm train-value`): {err}"
            ) from err
        return model


def monte_carlo_dataset(trajectories: Sequence[Trajectory]) -> tuple[list[str], list[float]]:
    """(state texts, labels): each state of an episode labelled with the episode's outcome reward; episodes
    without an outcome (cut off, or an infrastructure failure) are left out."""
    texts, labels = [], []
    for trajectory in trajectories:
        outcome = trajectory.outcome.outcome if trajectory.outcome else None
        reward = (outcome or {}).get("reward")
        if reward is None:
            continue
        states = trajectory_states(trajectory)
        texts += states
        labels += [float(reward)] * len(states)
    return texts, labels


def fit_value_model(
    trajectories: Sequence[Trajectory],
    *,
    epochs: int = 200,
    lr: float = 1e-2,
    dim: int = 4096,
    hidden: int = 64,
    seed: int = 0,
) -> tuple[ValueModel, dict[str, float]]:
    """Fits a `ValueModel` on the trajectories' Monte Carlo labels; returns it and {samples, initial/final mse}."""
    torch = _torch()
    texts, labels = monte_carlo_dataset(trajectories)
    if not texts:
        raise RewardSpecError("no trajectory with an outcome reward to train on")
    model = ValueModel(dim=dim, hidden=hidden, seed=seed)
    features, targets = featurize(texts, dim), torch.tensor(labels).unsqueeze(1)
    optimizer = torch.optim.Adam(model.net.parameters(), lr=lr)
    losses = []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(torch.sigmoid(model.net(features)), targets)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model, {"samples": len(texts), "initial_mse": losses[0], "final_mse": losses[-1]}
