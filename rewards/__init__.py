"""Reward wrappers: one process signal per module, each a `gymnasium.Wrapper`.

Signals (add `weight * value` to the reward and write `info["reward_components"][name]`): `LSPDiagnostics`
(`lsp`), `ProgressReward` (`progress`), `InformationGain` (`info_gain`), `PotentialShaping` (`shaping`).
Aggregators over the signals inside them: `ClipCumulative`, `GatedAccumulation`, `MinForm`.
Value estimators: `TestPassFraction`, `MonteCarlo`, `Checklist`, `ValueModel` (torch); scorers:
`EvidenceRecall`, `LMScorer` (transformers). `apply_rewards(env, ["lsp", "gated:threshold=1"])` builds a
stack from spec strings (`prm.rewards.spec`); `gymnasium.make("prm/...", rewards=[...])` does the same.

torch and transformers are imported only by `ValueModel` and `LMScorer`.
"""

from prm.rewards.base import StepSignal
from prm.rewards.checklist import Checklist, Subgoal
from prm.rewards.clip import ClipCumulative
from prm.rewards.estimators import MonteCarlo, TestPassFraction, ValueEstimator
from prm.rewards.gated import GatedAccumulation
from prm.rewards.info_gain import EvidenceRecall, InformationGain
from prm.rewards.lsp import LSPDiagnostics
from prm.rewards.minform import MinForm
from prm.rewards.progress import ProgressReward
from prm.rewards.shaping import PotentialShaping
from prm.rewards.spec import RewardSpec, apply_rewards, parse_spec, parse_specs

__all__ = [
    "Checklist",
    "ClipCumulative",
    "EvidenceRecall",
    "GatedAccumulation",
    "InformationGain",
    "LSPDiagnostics",
    "MinForm",
    "MonteCarlo",
    "PotentialShaping",
    "ProgressReward",
    "RewardSpec",
    "StepSignal",
    "Subgoal",
    "TestPassFraction",
    "ValueEstimator",
    "apply_rewards",
    "parse_spec",
    "parse_specs",
]


def __getattr__(name: str):
    """`LMScorer` and `ValueModel` are loaded on first use (they need the `ml` extra's torch)."""
    if name == "LMScorer":
        from prm.rewards.lm_scorer import LMScorer

        return LMScorer
    if name == "ValueModel":
        from prm.rewards.value_model import ValueModel

        return ValueModel
    raise AttributeError(f"module 'prm.rewards' has no attribute {name!r}")
