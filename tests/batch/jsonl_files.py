"""Input and output files of batch jobs, shared by the tests of tests/batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_rows(path: Path, n: int, **extra: Any) -> Path:
    """Write ``n`` JSONL rows ``{"id": "r<i>", "n": i, **extra}`` to ``path``."""
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"r{i}", "n": i, **extra}) + "\n")
    return path


def record_lines(path: Path, key: str = "id") -> dict[Any, str]:
    """The output's lines by their record's ``key``, asserting each key appears once."""
    out: dict[Any, str] = {}
    for line in path.read_text().splitlines():
        value = json.loads(line)[key]
        assert value not in out, f"key {value!r} appears twice"
        out[value] = line
    return out


def records(path: Path, key: str = "id") -> dict[Any, dict[str, Any]]:
    """The output's records by their ``key``, asserting each key appears once."""
    return {value: json.loads(line) for value, line in record_lines(path, key).items()}
