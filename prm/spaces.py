"""Text spaces for LLM agents.

Gymnasium's `Text` space restricts strings to a fixed charset and length; an LLM's observations and actions are
arbitrary Unicode, so `Unicode` accepts every `str`. It still samples (random printable text from the space's own
generator), so `gymnasium.utils.env_checker.check_env` passes.

>>> from prm.spaces import Unicode
>>> space = Unicode(seed=0)
>>> space.contains("any text — even emoji ✓")
True
>>> isinstance(space.sample(), str)
True
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium.spaces import Space

_SAMPLE_ALPHABET = np.array(list(string.ascii_letters + string.digits + string.punctuation + " \n"))


class Unicode(Space[str]):
    """The space of all Python strings; `sample()` draws printable text of at most `max_sample_length` chars."""

    def __init__(self, max_sample_length: int = 64, seed: int | np.random.Generator | None = None):
        self.max_sample_length = max_sample_length
        super().__init__(shape=None, dtype=None, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        length = int(self.np_random.integers(0, self.max_sample_length + 1))
        return "".join(self.np_random.choice(_SAMPLE_ALPHABET, size=length))

    def contains(self, x: Any) -> bool:
        return isinstance(x, str)

    def __repr__(self) -> str:
        return "Unicode()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unicode)

    def to_jsonable(self, sample_n: Any) -> list[str]:
        return list(sample_n)

    def from_jsonable(self, sample_n: list[str]) -> list[str]:
        return list(sample_n)
