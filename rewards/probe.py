"""`KernelProbe`: V(s) = the fraction of the task's gold values already present in the agent's working state.

DataPRM-style environment probing (a process reward model that checks intermediate state instead of judging the
text of a step): after a step, the env inspects a fork of its execution state and reports how much of the
answer is already computed. For `prm/data-analysis-v0` (`DataAnalysisEnv.probe`): a copy-on-write fork of the
Python kernel lists the scalar values its variables hold, and the host counts the gold `[name, value]` pairs
whose value appears among them or in the outputs of cells that ran cleanly. The gold values never enter the
sandbox. Used through `ProgressReward` (`progress:probe`): r_t = V(s_{t+1}) - V(s_t), which sums to
V(final) - V(initial).

The env hook is `probe() -> float` in [0, 1]; an env without it is refused at construction. The values come
from the agent's own process, so an agent can inflate V (e.g. by holding many candidate numbers; the env ignores
outputs that dump more than a few hundred numbers): pair it with `gated` so that it pays only on solved tasks.

>>> KernelProbe().only_after_changes
False
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from prm.errors import RewardSpecError
from prm.rewards.estimators import has_hook


class KernelProbe:
    """V = `env.unwrapped.probe()`: the fraction of gold values present in the agent's state (see the module)."""

    only_after_changes = False

    def check(self, env: gym.Env) -> None:
        if not has_hook(env, "probe"):
            raise RewardSpecError(
                f"progress:probe needs an env with a probe() hook (e.g. prm/data-analysis-v0); "
                f"{type(env.unwrapped).__name__} has none"
            )

    def value(self, env: gym.Env, info: dict[str, Any] | None) -> float:
        return float(env.unwrapped.probe())
