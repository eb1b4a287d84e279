import pytest
from pydantic import BaseModel, Field

from prm.tools import ActionError, Tool, ToolResult, bind_args, describe_tools, parse_tool_call


class SearchArgs(BaseModel):
    query: str = Field(min_length=1)
    k: int = Field(default=5, ge=1, le=50)


SEARCH = Tool("search", "Search the corpus.", SearchArgs, lambda args: ToolResult(args.query))


@pytest.mark.parametrize(
    "text",
    [
        '{"tool": "search", "args": {"query": "x"}}',
        'Thought: look it up.\n```json\n{"tool": "search", "args": {"query": "x"}}\n```',
        'braces {not json} then {"tool": "search", "args": {"query": "x"}}',
    ],
)
def test_parses_json_tool_calls_inside_prose(text):
    assert parse_tool_call(text).args == {"query": "x"}


@pytest.mark.parametrize(
    ("action", "message"),
    [
        ("no json here", "no JSON object"),
        ('{"args": {}}', 'string field "tool"'),
        ('{"tool": "search", "args": [1]}', '"args" must be a JSON object'),
        (42, "must be a string"),
    ],
)
def test_malformed_calls_explain_the_problem(action, message):
    with pytest.raises(ActionError, match=message):
        parse_tool_call(action)


def test_arguments_are_validated_with_the_tools_model():
    assert bind_args(SEARCH, {"query": "q", "k": 3}).k == 3
    with pytest.raises(ActionError, match=r"'k': Input should be less than or equal to 50"):
        bind_args(SEARCH, {"query": "q", "k": 99})
    with pytest.raises(ActionError, match=r"'query': Field required"):
        bind_args(SEARCH, {})


def test_tool_manual_and_openai_schema():
    assert "search(query, k?)" in describe_tools([SEARCH])
    schema = SEARCH.openai_schema()
    assert schema["function"]["name"] == "search"
    assert schema["function"]["parameters"]["required"] == ["query"]
