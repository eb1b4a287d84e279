"""Hypothesis strategies for action strings a misbehaving policy might emit, given a family's tools.

Used by the bad-input attacks of `prm bench hostile` and by the fuzz tests. Needs `hypothesis` (the `dev` extra).

>>> from prm.bench.fuzz_actions import any_action
>>> any_action({"answer": ["text"]}).example()  # doctest: +SKIP
'{"tool": "answer", "args": {"text": "\\u00e9"}}'
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from hypothesis import strategies as st

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=10,
)
"""Arbitrary JSON-able argument values."""


def tool_calls(tools: Mapping[str, Sequence[str]]) -> st.SearchStrategy[str]:
    """JSON tool calls with the family's tool names and argument names, and arbitrary values."""
    calls = st.sampled_from(sorted(tools)).flatmap(
        lambda tool: st.fixed_dictionaries(
            {
                "tool": st.just(tool),
                "args": st.fixed_dictionaries({}, optional=dict.fromkeys(tools[tool], values)),
            }
        )
    )
    return calls.map(json.dumps) | calls.map(lambda call: json.dumps(call, ensure_ascii=False))


def any_action(tools: Mapping[str, Sequence[str]]) -> st.SearchStrategy[str]:
    """Junk text, undecodable bytes, tool calls, tool calls in prose, and tool calls cut anywhere."""
    junk = st.text(max_size=300) | st.binary(max_size=100).map(lambda b: b.decode("utf-8", "surrogateescape"))
    prose = st.tuples(st.text(max_size=20), tool_calls(tools), st.text(max_size=20)).map("".join)
    cut = tool_calls(tools).flatmap(lambda text: st.integers(0, len(text)).map(lambda n: text[:n]))
    return junk | tool_calls(tools) | prose | cut
