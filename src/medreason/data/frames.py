"""Rows (dicts) <-> Parquet (``options`` stored as map<string, string> as in data/mcq/mcq.parquet) and JSON lines."""

from __future__ import annotations

import json

from pathlib import Path
from typing import Any

def write_rows(rows: list[dict[str, Any]], path: str | Path, columns: list[str] | None = None) -> None:
    """Write rows to Parquet. Columns come from ``columns`` (needed when ``rows`` may be empty) or the first row;
    an ``options`` column is a map; every other column's type is inferred."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = columns or (list(rows[0]) if rows else [])
    arrays = {}
    for c in columns:
        values = [r.get(c) for r in rows]
        arrays[c] = (pa.array(values, pa.map_(pa.string(), pa.string())) if c == "options"
                     else pa.array(values, pa.string() if all(v is None for v in values) else None))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(arrays) if columns else pa.table({}), path)


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Parquet -> rows; an ``options`` map comes back as a dict letter -> text."""
    import pyarrow.parquet as pq

    rows = pq.read_table(path).to_pylist()
    for r in rows:
        if isinstance(r.get("options"), list):
            r["options"] = dict(r["options"])
    return rows


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """One object per non-blank line."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def write_jsonl(rows: list[dict[str, Any]], path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
