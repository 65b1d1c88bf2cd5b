"""Ingest: every configured source -> one canonical, de-duplicated MCQ set, its rejects and a reconciled report."""

from __future__ import annotations

import gc
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import orjson
from tqdm import tqdm

from medreason.config import SourceConfig
from medreason.data.readers import Item, read_file, read_hf, row_parser
from medreason.data.schema import MCQ_COLUMNS, normalise


@dataclass
class IngestResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)


def source_items(src: SourceConfig) -> Iterable[Item]:
    parse = row_parser(src.row_schema, src.cop_base)
    if src.format == "hf":
        return read_hf(src.path, parse, name=src.name, split=src.split)
    return read_file(src.path, parse)


def ingest(sources: Iterable[SourceConfig]) -> IngestResult:
    """Read every source in order; the first occurrence of an id is kept, later ones are counted as duplicates.

    read = kept + rejected + duplicates holds overall and per source.
    """
    with _no_gc():
        return _ingest(sources)


@contextmanager
def _no_gc():
    """Hundreds of thousands of small dicts and no reference cycles: the cyclic collector would only rescan them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _ingest(sources: Iterable[SourceConfig]) -> IngestResult:
    result = IngestResult()
    seen: dict[str, str] = {}  # id -> answer text of the kept row
    by_source: dict[str, dict[str, Any]] = {}
    reasons: Counter[str] = Counter()
    conflicts = 0
    for src in sources:
        counts = Counter(read=0, kept=0, rejected=0, duplicates=0)
        src_reasons: Counter[str] = Counter()
        source_name = src.row_schema
        for item in tqdm(source_items(src), desc=f"ingest {src.path}", unit="rec", mininterval=1.0):
            counts["read"] += 1
            if item.row is None:
                counts["rejected"] += 1
                src_reasons[item.reason] += 1
                result.rejected.append({
                    "source": source_name, "file": src.path, "line": item.line, "record": item.record,
                    "reason": item.reason, "detail": item.detail, "raw": item.raw,
                })
                continue
            row = item.row
            if row["id"] in seen:
                counts["duplicates"] += 1
                conflicts += normalise(seen[row["id"]]) != normalise(row["answer"])
                continue
            seen[row["id"]] = row["answer"]
            counts["kept"] += 1
            row["source"], row["source_split"] = source_name, src.split
            if row["source_id"] is None:
                row["source_id"] = f"{Path(src.path).name}:{item.line or item.record}"
            result.rows.append(row)
        reasons.update(src_reasons)
        by_source[f"{src.format}:{src.path}"] = {**counts, "by_reason": dict(sorted(src_reasons.items()))}
    totals = {k: sum(s[k] for s in by_source.values()) for k in ("read", "kept", "rejected", "duplicates")}
    assert totals["read"] == totals["kept"] + totals["rejected"] + totals["duplicates"]
    result.report = {
        **totals,
        "duplicate_answer_conflicts": conflicts,  # duplicates whose answer differs from the kept copy's
        "by_reason": dict(sorted(reasons.items())),
        "by_source": by_source,
    }
    return result


def to_table(rows: list[dict[str, Any]]):
    """Rows -> an Arrow table in the canonical column order (options as map<string,string>)."""
    import pyarrow as pa

    with _no_gc():
        str_cols = [c for c in MCQ_COLUMNS if c not in ("options", "extra")]
        arrays = {c: pa.array([r[c] for r in rows], pa.string()) for c in str_cols}
        offsets, keys, texts = [0], [], []
        for r in rows:
            keys.extend(r["options"])
            texts.extend(r["options"].values())
            offsets.append(len(keys))
        arrays["options"] = pa.MapArray.from_arrays(
            pa.array(offsets, pa.int32()), pa.array(keys, pa.string()), pa.array(texts, pa.string()))
        arrays["extra"] = pa.array(
            [orjson.dumps(r["extra"], default=str).decode() if r["extra"] else None for r in rows], pa.string())
        return pa.table({c: arrays[c] for c in MCQ_COLUMNS})


def write_outputs(result: IngestResult, out_dir: str | Path) -> None:
    """data/mcq/mcq.parquet and rejected.jsonl (the stage publishes the report)."""
    import pyarrow.parquet as pq

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(to_table(result.rows), out_dir / "mcq.parquet")
    with open(out_dir / "rejected.jsonl", "wb") as f:
        for rec in result.rejected:
            f.write(orjson.dumps(rec) + b"\n")


def read_mcq(path: str | Path):
    """data/mcq/mcq.parquet as a DataFrame whose `options` cells are dicts letter -> text."""
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    df = table.drop(["options"]).to_pandas()
    opts = table.column("options").combine_chunks()
    offsets, keys, texts = opts.offsets.to_pylist(), opts.keys.to_pylist(), opts.items.to_pylist()
    df.insert(MCQ_COLUMNS.index("options"), "options",
              [dict(zip(keys[a:b], texts[a:b])) for a, b in zip(offsets[:-1], offsets[1:])])
    return df
