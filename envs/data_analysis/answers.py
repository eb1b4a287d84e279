"""DABench's answer format and its grading: `@name[value]`, several per answer.

An answer holds one or more `@name[value]` parts (brackets inside a value may nest, e.g.
`@outliers[[1, 2]]`). Grading compares each gold `[name, value]` pair with the agent's part of the same name
(names compared case-insensitively; a repeated name is matched occurrence by occurrence):

- numbers: equal once rounded to the precision asked for: the decimals the constraints or format name
  ("two decimal places", "rounded to 3 decimals", "nearest hundredth"), else the decimals of the gold value;
  i.e. |agent - gold| <= 0.5 * 10^-d (+1e-9);
- anything else: equal after normalising (lower case, quotes and surrounding spaces stripped, runs of spaces
  and the spaces around commas collapsed).

reward = (gold pairs matched) / (gold pairs); `correct` when all are (DABench's per-question accuracy).

>>> parse_answer("@mean_fare[34.65] and @count[ 3 ]")
[('mean_fare', '34.65'), ('count', '3')]
>>> score_answer("@mean_fare[34.650]", [("mean_fare", "34.65")], "rounded to two decimal places")
(1.0, [True])
>>> score_answer("@a[yes] @b[1.2]", [("a", "Yes"), ("b", "1.3")], "")
(0.5, [True, False])
"""

from __future__ import annotations

import math
import re

_NAME = re.compile(r"@([A-Za-z_][\w.\-]*)\[")
_DECIMAL_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}
_PRECISION = re.compile(r"\b(\d|one|two|three|four|five|six)\s+decimal", re.IGNORECASE)
_NAMED_PRECISION = {"nearest tenth": 1, "nearest hundredth": 2, "nearest thousandth": 3, "nearest integer": 0}
MAX_ANSWER_CHARS = 5000


class AnswerFormatError(ValueError):
    """The answer holds no `@name[value]` part (or an unclosed bracket)."""


def _value_end(segment: str) -> int:
    """Where a value ends in `segment` (the text after `@name[` up to the next part): at the bracket that
    balances the opening one, else (unbalanced brackets inside the value) at the segment's last `]`."""
    depth = 1
    for index, char in enumerate(segment):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if depth == 0:
            return index
    return segment.rfind("]")


def parse_answer(text: str) -> list[tuple[str, str]]:
    """The `(name, value)` parts of an answer, in order; `AnswerFormatError` when there are none."""
    matches = list(_NAME.finditer(text))
    if not matches:
        raise AnswerFormatError("no @name[value] part found; answer in the format the question gives")
    parts = []
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        segment = text[match.end() : following.start() if following else len(text)]
        end = _value_end(segment)
        if end < 0:
            raise AnswerFormatError(f"unclosed bracket after @{match.group(1)}[")
        parts.append((match.group(1), segment[:end].strip()))
    return parts


def precision(gold: str, instructions: str) -> int:
    """Decimals to compare a number at: from the instructions when they say, else from the gold value."""
    lowered = instructions.lower()
    for phrase, decimals in _NAMED_PRECISION.items():
        if phrase in lowered:
            return decimals
    if found := _PRECISION.search(instructions):
        word = found.group(1).lower()
        return int(word) if word.isdigit() else _DECIMAL_WORDS[word]
    _, dot, fraction = gold.strip().partition(".")
    return len(fraction) if dot and fraction.isdigit() else 0


def _number(text: str) -> float | None:
    try:
        value = float(text.strip().replace(",", "")) if text.strip() else None
    except ValueError:
        return None
    return value if value is None or math.isfinite(value) or math.isnan(value) else value


def normalise(text: str) -> str:
    text = text.strip().strip("'\"").strip().lower()
    text = re.sub(r"\s*,\s*", ", ", text)
    return re.sub(r"\s+", " ", text)


def values_match(given: str, gold: str, instructions: str = "") -> bool:
    """Whether one agent value matches one gold value (see the module docstring)."""
    gold_number, given_number = _number(gold), _number(given)
    if gold_number is not None and given_number is not None:
        if math.isnan(gold_number) or math.isnan(given_number):
            return math.isnan(gold_number) and math.isnan(given_number)
        return abs(given_number - gold_number) <= 0.5 * 10 ** -precision(gold, instructions) + 1e-9
    return normalise(given) == normalise(gold)


def score_answer(text: str, gold: list[tuple[str, str]], instructions: str = "") -> tuple[float, list[bool]]:
    """(fraction of gold pairs matched, matched per gold pair); `AnswerFormatError` when `text` does not parse.
    A name given several times (some gold labels repeat a name) is matched occurrence by occurrence."""
    given: dict[str, list[str]] = {}
    for name, value in parse_answer(text):
        given.setdefault(name.lower(), []).append(value)
    seen: dict[str, int] = {}
    matched = []
    for name, value in gold:
        occurrence = seen[name.lower()] = seen.get(name.lower(), -1) + 1
        values = given.get(name.lower(), [])
        matched.append(occurrence < len(values) and values_match(values[occurrence], value, instructions))
    return sum(matched) / len(gold), matched
