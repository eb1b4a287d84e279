"""Typed reward specs: the text form of reward wrappers used by the CLI, `gymnasium.make` and trajectory headers.

A spec is `NAME[:POSITIONAL][:KEY=VALUE[,KEY=VALUE...]]`:

| spec                                   | wrapper                                                |
| -------------------------------------- | ------------------------------------------------------ |
| `lsp[:w_err=1,w_warn=0.1,w_unsafe=1]`  | `LSPDiagnostics`                                       |
| `progress:test_pass[:tests=all]`       | `ProgressReward(TestPassFraction)`                     |
| `progress:mc[:n=4,horizon=20,prover=SPEC]` | `ProgressReward(MonteCarlo)` (`prover=` last) |
| `progress:value:model=PATH`            | `ProgressReward(ValueModel)` (from `prm train-value`)  |
| `progress:checklist[:file=PATH]`       | `ProgressReward(Checklist)` (scenario's `subgoals` or a file) |
| `progress:probe`                       | `ProgressReward(KernelProbe)` (env's `probe()` hook)   |
| `progress:screen_judge:model=NAME[,backend=openai,images=true]` | `ProgressReward(ScreenJudge)` (GUI-Shepherd) |
| `info_gain[:scorer=evidence,redundancy=0.5]` | `InformationGain(EvidenceRecall)`                |
| `info_gain:scorer=lm,model=NAME_OR_PATH[,form=igpo]` | `InformationGain(LMScorer)`              |
| `shaping[:phi=test_pass,gamma=0.99]`   | `PotentialShaping` (phi: any progress estimator)       |
| `judge:SCHEME:backend=hf,model=PATH[,retries=2]` | `JudgeReward` (score, ternary, rubric; openai endpoint from `OPENAI_BASE_URL`) |
| `implicit:policy=PATH,ref=PATH[,beta=0.05]` | `ImplicitPRM` (PRIME log-ratio)                   |
| `clip[:max=1,min=-1]`                  | `ClipCumulative`                                       |
| `gated[:threshold=1.0]`                | `GatedAccumulation`                                    |
| `minform`                              | `MinForm`                                              |

Every signal takes `weight=` (default 1). `prover=` takes a prover spec (`prm.rewards.provers`, e.g.
`oracle` or `stochastic_oracle:p=0.3,seed=0`), which may itself hold ':' and ',': it comes last and takes
the rest of the text. `apply_rewards(env, specs)` wraps in a fixed order whatever the
order given: signals innermost (in the order given), then shaping, clip, gated, minform outermost. An unknown
name or parameter, or a bad value, raises `RewardSpecError` naming it, before anything runs.

>>> [str(spec) for spec in parse_specs(["gated:threshold=0.5", "progress:test_pass", "lsp:w_warn=0"])]
['gated:threshold=0.5', 'progress:test_pass', 'lsp:w_warn=0.0']
>>> parse_spec("lsp:w_typo=1")
Traceback (most recent call last):
...
prm.errors.RewardSpecError: reward spec 'lsp:w_typo=1': unknown parameter 'w_typo'; lsp takes: weight, w_err, w_warn, w_unsafe, timeout
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Literal

import gymnasium as gym
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from prm.errors import RewardSpecError
from prm.rewards.provers import prover_from_spec

Estimator = Literal["test_pass", "mc", "value", "checklist", "probe", "screen_judge"]
TRAILING = "prover"
"""The parameter whose value is the rest of the spec text (an agent spec, which may hold ':' and ',')."""
ESTIMATOR_PARAMS: dict[str, set[str]] = {
    "test_pass": {"tests"},
    "mc": {"n", "horizon", "prover"},
    "value": {"model"},
    "checklist": {"file"},
    "probe": set(),
    "screen_judge": {"model", "backend", "images", "retries"},
}


class RewardSpec(BaseModel):
    """Base of the typed specs; `build(env)` returns the wrapped env."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: ClassVar[str]
    rank: ClassVar[int] = 0  # wrapping order: lower is closer to the env
    step_score: ClassVar[bool] = False  # the `StepSignal.step_score` of the signal it builds
    positional: ClassVar[str | None] = None

    def build(self, env: gym.Env) -> gym.Env:
        raise NotImplementedError

    def __str__(self) -> str:
        params = self.model_dump(exclude_defaults=True)
        head = [self.name]
        if self.positional is not None:
            params.pop(self.positional, None)
            head.append(str(getattr(self, self.positional)))
        if TRAILING in params:  # its value may hold ':' and ',', so it goes last
            params[TRAILING] = params.pop(TRAILING)
        if params:
            head.append(",".join(f"{key}={value}" for key, value in params.items()))
        return ":".join(head)


class LSPSpec(RewardSpec):
    name: ClassVar[str] = "lsp"
    weight: float = 1.0
    w_err: float = 1.0
    w_warn: float = 0.1
    w_unsafe: float = 1.0
    timeout: float = 60.0

    def build(self, env: gym.Env) -> gym.Env:
        from prm.rewards.lsp import LSPDiagnostics

        return LSPDiagnostics(env, **self.model_dump())


class ProgressSpec(RewardSpec):
    name: ClassVar[str] = "progress"
    positional: ClassVar[str | None] = "estimator"
    estimator: Estimator = "test_pass"
    weight: float = 1.0
    tests: Literal["all", "fail_to_pass"] = "all"
    n: int = 4
    horizon: int = 20
    prover: str = "oracle"
    model: str | None = None
    file: str | None = None
    backend: Literal["openai", "hf", "vllm"] = "openai"
    images: bool = False
    retries: int = Field(2, ge=0)

    @model_validator(mode="after")
    def _params_fit_estimator(self) -> ProgressSpec:
        given = self.model_fields_set - {"estimator", "weight", "gamma"}
        foreign = sorted(given - ESTIMATOR_PARAMS[self.estimator])
        if foreign:
            raise ValueError(
                f"parameter(s) {', '.join(foreign)} do not apply to the '{self.estimator}' estimator"
            )
        if self.estimator == "mc":
            try:
                prover_from_spec(self.prover)
            except RewardSpecError as err:
                raise ValueError(f"{err} (prover= takes the rest of the spec: put it last)") from err
        if self.estimator == "value" and self.model is None:
            raise ValueError("the 'value' estimator needs model=PATH (a file written by `prm train-value`)")
        if self.estimator == "screen_judge" and self.model is None:
            raise ValueError("the 'screen_judge' estimator needs model=NAME_OR_PATH (the judge model)")
        if self.images and self.backend != "openai":
            raise ValueError("images=true needs backend=openai (a multimodal OpenAI-compatible endpoint)")
        return self

    def estimator_object(self) -> Any:
        from prm.rewards import estimators

        if self.estimator == "test_pass":
            return estimators.TestPassFraction(self.tests)
        if self.estimator == "mc":
            return estimators.MonteCarlo(prover_from_spec(self.prover), n=self.n, horizon=self.horizon)
        if self.estimator == "value":
            from prm.rewards.value_model import ValueModel

            return ValueModel.load(self.model)
        if self.estimator == "probe":
            from prm.rewards.probe import KernelProbe

            return KernelProbe()
        if self.estimator == "screen_judge":
            from prm.rewards.judge import shared_judge
            from prm.rewards.screen_judge import ScreenJudge, image_judge

            judge = (
                image_judge(self.model)
                if self.images
                else shared_judge(
                    self.backend, self.model, max_new_tokens=128, cache=True, max_batch=16, window=0.05
                )
            )
            return ScreenJudge(judge, images=self.images, retries=self.retries)
        from prm.rewards.checklist import Checklist

        return Checklist.from_file(self.file) if self.file else Checklist()

    def build(self, env: gym.Env) -> gym.Env:
        from prm.rewards.progress import ProgressReward

        return ProgressReward(env, self.estimator_object(), weight=self.weight)


class ShapingSpec(ProgressSpec):
    name: ClassVar[str] = "shaping"
    rank: ClassVar[int] = 1
    positional: ClassVar[str | None] = "estimator"
    gamma: float = 0.99

    @model_validator(mode="before")
    @classmethod
    def _phi_names_estimator(cls, data: Any) -> Any:
        if isinstance(data, dict) and "phi" in data:
            data = dict(data)
            data["estimator"] = data.pop("phi")
        return data

    def build(self, env: gym.Env) -> gym.Env:
        from prm.rewards.shaping import PotentialShaping

        return PotentialShaping(env, self.estimator_object(), gamma=self.gamma, weight=self.weight)


class InfoGainSpec(RewardSpec):
    name: ClassVar[str] = "info_gain"
    positional: ClassVar[str | None] = "scorer"
    scorer: Literal["evidence", "lm"] = "evidence"
    weight: float = 1.0
    redundancy: float = 0.5
    model: str | None = None
    max_tokens: int = 1024
    form: Literal["log_prob", "igpo"] = "log_prob"

    @model_validator(mode="after")
    def _model_for_lm(self) -> InfoGainSpec:
        if self.scorer == "lm" and not self.model:
            raise ValueError("scorer=lm needs model=NAME_OR_PATH (a transformers causal LM)")
        if self.scorer == "evidence" and (self.model or self.form != "log_prob"):
            raise ValueError("model= and form= apply to scorer=lm only")
        return self

    def build(self, env: gym.Env) -> gym.Env:
        from prm.rewards.info_gain import EvidenceRecall, InformationGain

        if self.scorer == "lm":
            from prm.rewards.lm_scorer import LMScorer

            scorer = LMScorer(self.model, max_tokens=self.max_tokens, form=self.form)
        else:
            scorer = EvidenceRecall()
        return InformationGain(
            env,
            scorer,
            redundancy=self.redundancy,
            weight=self.weight,
            outcome_on_final_turn=self.form == "igpo",
        )


class JudgeSpec(RewardSpec):
    name: ClassVar[str] = "judge"
    step_score: ClassVar[bool] = True
    positional: ClassVar[str | None] = "scheme"
    scheme: Literal["score", "ternary", "rubric"] = "ternary"
    backend: Literal["openai", "hf", "vllm"] = "openai"
    model: str
    weight: float = 1.0
    history: int = 4
    low: float = 0.0
    high: float = 10.0
    penalty: float = 0.0
    rubric: str | None = None
    max_new_tokens: int = 128
    cache: bool = True
    max_batch: int = 16
    window: float = 0.05
    retries: int = Field(2, ge=0)

    def judge_settings(self) -> dict[str, Any]:
        from prm.rewards.judge import Rubric

        rubric = Rubric.from_file(self.rubric) if self.rubric else None
        return self.model_dump(include={"scheme", "history", "low", "high", "penalty"}) | {"rubric": rubric}

    def judge(self) -> Any:
        from prm.rewards.judge import shared_judge

        keys = {"max_new_tokens", "cache", "max_batch", "window"}
        return shared_judge(self.backend, self.model, **self.model_dump(include=keys))

    def build(self, env: gym.Env) -> gym.Env:
        from prm.rewards.judge import JudgeReward

        settings = self.judge_settings()
        return JudgeReward(env, self.judge(), weight=self.weight, retries=self.retries, **settings)

    def offline_values(self, trajectory: Any) -> list[float | None]:
        from prm.rewards.judge import JudgeReward

        return JudgeReward.rescore(trajectory, self.judge, **self.judge_settings())


class ImplicitSpec(RewardSpec):
    name: ClassVar[str] = "implicit"
    policy: str
    ref: str
    beta: float = 0.05
    weight: float = 1.0

    def build(self, env: gym.Env) -> gym.Env:
        from prm.rewards.implicit import ImplicitPRM

        return ImplicitPRM(env, **self.model_dump())

    def offline_values(self, trajectory: Any) -> list[float | None]:
        from prm.rewards.implicit import ImplicitPRM

        return ImplicitPRM.rescore(trajectory, **self.model_dump(exclude={"weight"}))


class ClipSpec(RewardSpec):
    name: ClassVar[str] = "clip"
    rank: ClassVar[int] = 2
    max: float = 1.0
    min: float | None = None

    def build(self, env: gym.Env) -> gym.Env:
        from prm.rewards.clip import ClipCumulative

        return ClipCumulative(env, high=self.max, low=self.min)


class GatedSpec(RewardSpec):
    name: ClassVar[str] = "gated"
    rank: ClassVar[int] = 3
    threshold: float = 1.0

    def build(self, env: gym.Env) -> gym.Env:
        from prm.rewards.gated import GatedAccumulation

        return GatedAccumulation(env, threshold=self.threshold)


class MinFormSpec(RewardSpec):
    name: ClassVar[str] = "minform"
    rank: ClassVar[int] = 4

    def build(self, env: gym.Env) -> gym.Env:
        from prm.rewards.minform import MinForm

        return MinForm(env)


SPECS: dict[str, type[RewardSpec]] = {
    spec.name: spec
    for spec in (
        *(LSPSpec, ProgressSpec, InfoGainSpec, ShapingSpec, JudgeSpec, ImplicitSpec),
        *(ClipSpec, GatedSpec, MinFormSpec),
    )
}


def _parameter_names(model: type[RewardSpec]) -> list[str]:
    return [name for name in model.model_fields if name != model.positional]


def parse_spec(text: str | RewardSpec) -> RewardSpec:
    """Parses one spec string (see the module docstring); raises `RewardSpecError` naming what is wrong."""
    if isinstance(text, RewardSpec):
        return text
    if not isinstance(text, str) or not text.strip():
        raise RewardSpecError(f"a reward spec must be a non-empty string, got {text!r}")
    body, trailing, rest = text.strip().partition(f"{TRAILING}=")
    if trailing and body and body[-1] not in ":,":
        body, trailing, rest = text.strip(), "", ""  # e.g. 'xprover=': not the parameter
    name, *segments = body.rstrip(":,").split(":")
    model = SPECS.get(name)
    if model is None:
        raise RewardSpecError(f"reward spec '{text}': unknown reward '{name}'; known: {', '.join(SPECS)}")
    data: dict[str, str] = {}
    if trailing:
        if TRAILING not in model.model_fields:
            raise RewardSpecError(
                f"reward spec '{text}': unknown parameter '{TRAILING}'; {name} takes: {', '.join(_parameter_names(model))}"
            )
        data[TRAILING] = rest.strip()
    for item in (part for segment in segments for part in segment.split(",") if part):
        key, eq, value = item.partition("=")
        if not eq:
            if model.positional is None or model.positional in data:
                raise RewardSpecError(f"reward spec '{text}': unexpected '{item}' (parameters are KEY=VALUE)")
            key, value = model.positional, item
        key = key.strip()
        allowed = {*model.model_fields, "phi"} if model is ShapingSpec else set(model.model_fields)
        if key not in allowed:
            raise RewardSpecError(
                f"reward spec '{text}': unknown parameter '{key}'; {name} takes: {', '.join(_parameter_names(model))}"
            )
        data[key] = value.strip()
    try:
        return model.model_validate(data)
    except ValidationError as err:
        problems = "; ".join(
            f"'{'.'.join(map(str, e['loc'])) or name}': {e['msg'].removeprefix('Value error, ')}"
            for e in err.errors()
        )
        raise RewardSpecError(f"reward spec '{text}': {problems}") from err


def parse_specs(texts: str | RewardSpec | Iterable[str | RewardSpec]) -> list[RewardSpec]:
    """Parses every spec first (so a bad one fails before any wrapper is built); at most one of each
    aggregator (clip, gated, minform). A single spec (`rewards="lsp"`) is one spec, not a list of letters.

    >>> [str(spec) for spec in parse_specs("lsp")]
    ['lsp']
    """
    if isinstance(texts, str | RewardSpec):
        texts = [texts]
    specs = [parse_spec(text) for text in texts]
    for model in (ClipSpec, GatedSpec, MinFormSpec):
        if sum(isinstance(spec, model) for spec in specs) > 1:
            raise RewardSpecError(f"reward spec '{model.name}' given more than once")
    return specs


def apply_rewards(env: gym.Env, specs: str | RewardSpec | Iterable[str | RewardSpec]) -> gym.Env:
    """Wraps `env` with the reward wrappers that `specs` name, signals inside and aggregators outside.

    >>> import gymnasium as gym, prm
    >>> env = apply_rewards(gym.make("prm/search-qa-v0", scenario="5a8ce55f554299441c6b9f62"),
    ...                     ["info_gain:scorer=evidence", "gated:threshold=0.5"])
    >>> type(env).__name__, type(env.env).__name__
    ('GatedAccumulation', 'InformationGain')
    """
    for spec in sorted(parse_specs(specs), key=lambda spec: spec.rank):
        env = spec.build(env)
    return env
