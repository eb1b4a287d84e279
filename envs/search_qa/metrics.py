"""HotpotQA's official answer metrics: exact match and token F1 after answer normalisation.

Port of `hotpot_evaluate_v1.py` (Yang et al., 2018, "HotpotQA: A Dataset for Diverse, Explainable Multi-hop
Question Answering"), itself SQuAD's: lower-case, strip punctuation, drop the articles a/an/the, collapse
white space. As in the official script, a yes/no/noanswer answer scores F1 0 unless it matches exactly.

>>> normalize_answer("The  Beatles!")
'beatles'
>>> exact_match("the Beatles", "Beatles.")
1.0
>>> round(f1_score("Paris, France", "Paris"), 3)
0.667
>>> f1_score("yes", "no")
0.0
"""

from __future__ import annotations

import re
import string
from collections import Counter

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)
_SPECIAL = ("yes", "no", "noanswer")


def normalize_answer(text: str) -> str:
    """Lower-case, remove punctuation, remove articles, collapse white space (the official order)."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def exact_match(prediction: str, gold: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1_score(prediction: str, gold: str) -> float:
    """Token-level F1 between the normalised prediction and gold answer."""
    pred, ref = normalize_answer(prediction), normalize_answer(gold)
    if (pred in _SPECIAL or ref in _SPECIAL) and pred != ref:
        return 0.0
    pred_tokens, ref_tokens = pred.split(), ref.split()
    same = sum((Counter(pred_tokens) & Counter(ref_tokens)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred_tokens), same / len(ref_tokens)
    return 2 * precision * recall / (precision + recall)
