"""Scenarios of `prm/data-analysis-v0`: one DABench question about one CSV table each.

A scenario file (YAML) names its table (a `.csv` or `.csv.gz` path relative to the file) and, as hidden
material never shown to the agent, the gold `answers` (`[[name, value], ...]`, DABench's `common_answers`)
and optionally a reference `solution` (a Python file, relative to the scenario file, that prints the answer
line when run in the sandbox's working directory next to the table):

```yaml
id: dabench-0
question: Calculate the mean fare paid by the passengers.
constraints: Rounding off the answer to two decimal places.
format: '@mean_fare[mean_fare_value] where "mean_fare_value" is a floating-point number ...'
file_name: test_ave.csv          # the table's name in the sandbox
table: tables/test_ave.csv.gz    # where the table is, relative to this file
answers: [[mean_fare, '34.65']]
solution: solutions/0.py
```

The packaged pack (`scenarios/data_analysis/`, 172 questions over 52 tables from DABench / InfiAgent-DABench,
Apache-2.0, see its ATTRIBUTION.md) was written by `prm scenario import dabench QUESTIONS LABELS TABLES --out DIR`
(`import_dabench`), which converts any question and label files of DABench's JSON Lines format.

>>> scenario = load_data_scenario("dabench-0")
>>> scenario.file_name, scenario.answers
('test_ave.csv', [('mean_fare', '34.65')])
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from pydantic import Field, field_validator

from prm.errors import ScenarioError
from prm.models import ScenarioBase
from prm.paths import cache_dir
from prm.scenario import load_scenario, resolve_scenario, validate_scenario

if TYPE_CHECKING:
    from rich.progress import Progress

FAMILY = "data_analysis"
TABLES_DIR = "tables"
SOLUTIONS_DIR = "solutions"


class DataAnalysisScenario(ScenarioBase):
    """One question about one table. `answers` and `solution` are hidden material."""

    question: str = Field(min_length=1)
    constraints: str = ""
    format: str = Field(min_length=1, description="DABench's answer format, e.g. '@mean_fare[value]'")
    file_name: str = Field(pattern=r"^[^/\x00]+\.csv$", description="the table's file name in the sandbox")
    table: str = Field(min_length=1, description="the table (.csv or .csv.gz), relative to the scenario file")
    answers: list[tuple[str, str]] = Field(min_length=1, description="gold [name, value] pairs (hidden)")
    solution: str | None = Field(default=None, description="reference solution file (hidden), relative")
    level: str | None = None
    concepts: list[str] = Field(default_factory=list)
    max_steps: int = Field(default=20, ge=1)

    @field_validator("file_name")
    @classmethod
    def _plain_name(cls, name: str) -> str:
        if name in (".csv", "..csv") or name.startswith("."):
            raise ValueError("file_name must be a plain file name, not hidden or relative")
        return name

    def table_path(self) -> Path:
        return Path(self.table)

    def solution_code(self) -> str | None:
        """The reference solution's source (hidden material), or None."""
        return Path(self.solution).read_text(encoding="utf-8") if self.solution else None


def load_data_scenario(ref: str | Path) -> DataAnalysisScenario:
    """Loads a scenario by packaged id or file path; `table` and `solution` are resolved against its folder
    and must exist (a `ScenarioError` names the file, field and reason)."""
    path = resolve_scenario(FAMILY, ref)
    scenario = load_scenario(path, DataAnalysisScenario)
    resolved: dict[str, Any] = {}
    for field in ("table", "solution"):
        value = getattr(scenario, field)
        if value is None:
            continue
        target = (path.parent / value).resolve()
        if not target.is_file():
            raise ScenarioError(str(path), field, f"no such file: {target}")
        resolved[field] = str(target)
    if not resolved["table"].endswith((".csv", ".csv.gz")):
        raise ScenarioError(str(path), "table", "the table must be a .csv or .csv.gz file")
    return scenario.model_copy(update=resolved)


def prepared_workspace(scenario: DataAnalysisScenario) -> Path:
    """A host folder holding only the scenario's table (decompressed, under `file_name`), cached by content:
    what each sandbox's workspace is seeded from."""
    source = scenario.table_path()
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    folder = cache_dir() / "data_analysis" / "workspaces" / f"{digest}-{scenario.file_name}"
    target = folder / scenario.file_name
    if not target.is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
        opener = gzip.open if source.suffix == ".gz" else open
        with opener(source, "rb") as src, open(staging / scenario.file_name, "wb") as dst:
            shutil.copyfileobj(src, dst)
        (staging / scenario.file_name).chmod(0o444)
        try:
            staging.rename(folder)
        except OSError:  # another process prepared it first
            shutil.rmtree(staging, ignore_errors=True)
    return folder


def _read_jsonl(path: Path) -> list[tuple[str, dict]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as err:
        raise ScenarioError(str(path), "<file>", f"cannot read: {err.strerror or err}") from err
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ScenarioError(f"{path}:{number}", "<line>", f"not valid JSON: {err}") from err
        if not isinstance(row, dict) or "id" not in row:
            raise ScenarioError(f"{path}:{number}", "id", "each line must be a JSON object with an id")
        rows.append((f"{path}:{number}", row))
    return rows


def import_dabench(files: list[Path], out: Path, progress: Progress) -> list[Path]:
    """`prm scenario import dabench QUESTIONS LABELS TABLES --out DIR`: DABench's question and label files
    (JSON Lines: `id, question, constraints, format, file_name, level, concepts` and `id, common_answers`) and
    its table folder -> `DIR/dabench-<id>.yaml` per question, with its table gzipped into `DIR/tables/`.
    A reference solution already at `DIR/solutions/<id>.py` is linked from its scenario. Every bad record is a
    `ScenarioError` naming `FILE:LINE`, the field and the reason, and nothing is written."""
    if len(files) != 3:
        raise ScenarioError(", ".join(map(str, files)), "FILES", "dabench takes QUESTIONS LABELS TABLES")
    questions_file, labels_file, tables = files
    if not tables.is_dir():
        raise ScenarioError(str(tables), "TABLES", "must be the folder of the questions' CSV tables")
    labels = {row["id"]: (source, row) for source, row in _read_jsonl(labels_file)}
    scenarios = []
    for source, row in _read_jsonl(questions_file):
        if row["id"] not in labels:
            raise ScenarioError(source, "id", f"no label for question {row['id']} in {labels_file}")
        table = tables / str(row.get("file_name", ""))
        if not table.is_file() or table.parent != tables:
            raise ScenarioError(source, "file_name", f"no table {row.get('file_name')!r} in {tables}")
        solution = out / SOLUTIONS_DIR / f"{row['id']}.py"
        fields = {
            "id": f"dabench-{row['id']}",
            **{key: row[key] for key in ("question", "constraints", "format", "file_name") if key in row},
            "level": row.get("level"),
            "concepts": row.get("concepts") or [],
            "table": f"{TABLES_DIR}/{row.get('file_name')}.gz",
            "answers": labels[row["id"]][1].get("common_answers"),
            "solution": f"{SOLUTIONS_DIR}/{solution.name}" if solution.is_file() else None,
        }
        scenarios.append((validate_scenario(fields, DataAnalysisScenario, source=source), table))
    writing = progress.add_task(f"writing {out}", total=len(scenarios))
    (out / TABLES_DIR).mkdir(parents=True, exist_ok=True)
    written = []
    for scenario, table in scenarios:
        packed = out / scenario.table
        if not packed.is_file():
            with open(table, "rb") as src, gzip.GzipFile(packed, "wb", mtime=0) as dst:
                shutil.copyfileobj(src, dst)
        path = out / f"{scenario.id}.yaml"
        data = scenario.model_dump(exclude_none=True, exclude_defaults=True, exclude={"max_steps"})
        data = {"id": scenario.id, **data, "answers": [list(pair) for pair in scenario.answers]}
        path.write_text(
            yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8"
        )
        written.append(path)
        progress.advance(writing)
    return written
