import pytest

from prm.errors import ScenarioError
from prm.models import ScenarioBase
from prm.scenario import load_scenario, resolve_scenario, scenario_files


class Demo(ScenarioBase):
    question: str


def test_loads_yaml_and_json(tmp_path):
    (tmp_path / "a.yaml").write_text("id: a\nquestion: why?\n")
    (tmp_path / "b.json").write_text('{"id": "b", "question": "how?", "max_steps": 3}')
    assert load_scenario(tmp_path / "a.yaml", Demo).question == "why?"
    assert load_scenario(tmp_path / "b.json", Demo).max_steps == 3
    assert [p.name for p in scenario_files(tmp_path)] == ["a.yaml", "b.json"]


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("id: a\n", "question", "Field required"),
        ("id: a\nquestion: q\ncolour: red\n", "colour", "Extra inputs are not permitted"),
        ("id: 'has space'\nquestion: q\n", "id", "String should match pattern"),
        ("id: a\nquestion: [unclosed\n", "<file>", "not valid YAML"),
        ("- just a list\n", "<root>", "mapping"),
    ],
)
def test_bad_file_names_file_field_and_reason(tmp_path, text, field, reason):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, Demo)
    assert caught.value.file == str(path)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_unknown_id_and_unreadable_file(tmp_path):
    with pytest.raises(ScenarioError, match="no 'nofamily' scenario with this id"):
        resolve_scenario("nofamily", "does-not-exist")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml", Demo)


def test_every_scenario_may_declare_subgoals_and_bad_ones_name_the_entry(tmp_path):
    path = tmp_path / "goals.yaml"
    path.write_text("id: a\nquestion: q\nsubgoals:\n  - {observed: Paris}\n  - {file: x.py, absent: bug}\n")
    assert [goal.kind for goal in load_scenario(path, Demo).subgoals] == ["observed", "file"]
    path.write_text("id: a\nquestion: q\nsubgoals:\n  - {observed: Paris}\n  - {file: x.py}\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, Demo)
    assert caught.value.field == "subgoals.1" and "contains, absent" in caught.value.reason


def test_non_utf8_file_names_file_line_and_reason(tmp_path):
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("id: x\nproblem_statement: caf\xe9\n".encode("latin-1"))
    with pytest.raises(
        ScenarioError, match=r"latin1\.yaml: field '<file>': not UTF-8 text \(byte 28, line 2"
    ):
        load_scenario(bad, ScenarioBase)
