"""Trajectory I/O: `TrajectoryWriter` appends JSONL lines as an episode runs; `load_trajectory` reads them back.

>>> import tempfile, pathlib
>>> from prm.models import TrajectoryHeader, StepRecord
>>> path = pathlib.Path(tempfile.mkdtemp()) / "episode.jsonl"
>>> with TrajectoryWriter(path, TrajectoryHeader(env_id="prm/swe-v0", scenario_id="s", prm_version="0")) as w:
...     w.write_step(StepRecord(index=0, action="{}", observation="ok", reward=0.5))
>>> load_trajectory(path).rewards
[0.5]

Each line is flushed as it is written, so a crash mid-episode loses nothing already stepped. Lines are ASCII
JSON, so every string an action or observation can hold (a lone surrogate too) is written and read back
exactly. A line that is cut off, not UTF-8 or not a record is an error naming the file and the line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import IO, Any

import numpy as np
from pydantic import ValidationError

from prm.errors import TrajectoryError
from prm.models import OutcomeRecord, StepRecord, Trajectory, TrajectoryHeader


def to_jsonable(value: Any) -> Any:
    """Converts numpy values and containers to plain JSON types; non-finite floats become strings."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(mode="json"))
    return repr(value)


class TrajectoryWriter:
    """Writes one trajectory file: the header at once, then `write_step` per step and `write_outcome` once."""

    def __init__(self, path: str | Path, header: TrajectoryHeader):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = self.path.open("w", encoding="utf-8")
        self._write(header)

    def _write(self, record: TrajectoryHeader | StepRecord | OutcomeRecord) -> None:
        line = to_jsonable(record.model_dump(mode="python"))
        # ASCII escapes keep any string (a lone surrogate too) and read back to the same string
        self._file.write(json.dumps(line, ensure_ascii=True, allow_nan=False) + "\n")
        self._file.flush()

    def write_step(self, step: StepRecord) -> None:
        self._write(step)

    def write_outcome(self, outcome: OutcomeRecord) -> None:
        self._write(outcome)

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> TrajectoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def reserve_path(path: str | Path) -> Path:
    """A new, empty file at `path`, or at `NAME.2.jsonl`, `NAME.3.jsonl`, ... when taken: recording never
    overwrites an earlier trajectory. The file is created exclusively, so two runs never pick the same name.

    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> [reserve_path(folder / "episode.jsonl").name for _ in range(3)]
    ['episode.jsonl', 'episode.2.jsonl', 'episode.3.jsonl']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    candidate, number = path, 1
    while True:
        try:
            candidate.open("x").close()
            return candidate
        except FileExistsError:
            number += 1
            candidate = path.with_name(f"{path.stem}.{number}{path.suffix}")


def write_trajectory(path: str | Path, trajectory: Trajectory) -> Path:
    """Writes a whole `Trajectory` (e.g. after re-scoring) to `path`."""
    with TrajectoryWriter(path, trajectory.header) as writer:
        for step in trajectory.steps:
            writer.write_step(step)
        if trajectory.outcome is not None:
            writer.write_outcome(trajectory.outcome)
    return Path(path)


_RECORDS = {"header": TrajectoryHeader, "step": StepRecord, "outcome": OutcomeRecord}


def load_trajectory(path: str | Path) -> Trajectory:
    """Reads a JSONL trajectory; raises `TrajectoryError` naming the file and line of any bad record."""
    path = Path(path)
    if not path.is_file():
        raise TrajectoryError(f"{path}: no such trajectory file")
    header, steps, outcome = None, [], None
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, start=1):
            if not raw.strip():
                continue
            try:
                data = json.loads(raw.decode("utf-8"))
                record = _RECORDS[data.get("type")].model_validate(data)
            except UnicodeDecodeError as err:
                raise TrajectoryError(f"{path}:{number}: not UTF-8 text ({err.reason})") from err
            except (json.JSONDecodeError, KeyError, AttributeError, ValidationError) as err:
                cut = "" if raw.endswith(b"\n") else " (the line is cut off: the file was truncated)"
                raise TrajectoryError(f"{path}:{number}: not a trajectory record{cut}: {err}") from err
            if isinstance(record, TrajectoryHeader):
                header = record
            elif isinstance(record, StepRecord):
                steps.append(record)
            else:
                outcome = record
    if header is None:
        raise TrajectoryError(f"{path}: no header line")
    return Trajectory(header=header, steps=steps, outcome=outcome)
