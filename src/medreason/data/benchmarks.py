"""Benchmarks: the evaluation files of params.yaml's ``benchmarks`` section, read into one item type.

The split decontaminates against their questions; evaluation scores on them. Each file is read as its publisher
ships it: medqa / medmcqa / huatuo through the ingest's own row parsers (data/readers.py); huatuo_eval, the
authors' eval_data.json ({source: [MCQ records]}), keeping each record's source; table, any JSON list or dict of
records, JSON lines, CSV, TSV or Parquet, for its question column only.

A record without its question text is an error naming the file and the record, never a skip: a silent gap would
let contamination through. A record whose options or answer the MCQ parser rejects keeps its question (the split
still needs it) and says why in ``issue``.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from medreason.config import BenchmarkConfig
from medreason.data.readers import Reject, read_file, row_parser


@dataclass(frozen=True)
class BenchmarkItem:
    question: str
    source: str  # the benchmark's name; for huatuo_eval, the record's source in the file (e.g. MedQA_USLME_test)
    options: dict[str, str] | None = None  # MCQ formats: letter -> text
    answer_idx: str | None = None
    issue: str | None = None  # why the MCQ parser rejected the options or answer (the question still counts)


def load_benchmarks(specs: tuple[BenchmarkConfig, ...]) -> tuple[dict[str, list[BenchmarkItem]], list[dict[str, Any]]]:
    """name -> items of the benchmarks present; and, for the report, what was read (questions, md5) or skipped.
    An absent file is skipped unless the benchmark is required."""
    from medreason.tracking import file_md5

    sets, info = {}, []
    for spec in specs:
        if not Path(spec.path).is_file():
            if spec.required:
                raise FileNotFoundError(f"benchmarks {spec.name}: {spec.path} not found (required: true)")
            info.append({"name": spec.name, "path": spec.path, "skipped": "file not found"})
            continue
        sets[spec.name] = read_benchmark(spec)
        info.append({"name": spec.name, "path": spec.path, "questions": len(sets[spec.name]),
                     "md5": file_md5(spec.path)})
    return sets, info


def benchmark_questions(specs: tuple[BenchmarkConfig, ...]) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    """load_benchmarks, keeping only the question texts (what decontamination compares)."""
    sets, info = load_benchmarks(specs)
    return {name: [item.question for item in items] for name, items in sets.items()}, info


def read_benchmark(spec: BenchmarkConfig) -> list[BenchmarkItem]:
    path = Path(spec.path)
    if spec.format == "table":
        return [BenchmarkItem(_question(rec, spec.field, path, where), spec.name)
                for where, rec in _table_records(path, spec.field)]
    if spec.format == "huatuo_eval":
        return _read_huatuo_eval(path)
    parse = row_parser(spec.format, spec.cop_base)
    return [row["item"] for _, row in _records(path, lambda obj: {"item": _mcq_item(obj, parse, spec.name)})]


def _records(path: Path, parse: Callable[[dict], dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, parsed record) of a JSON-lines file or JSON list, through the ingest's reader."""
    for item in read_file(path, parse):
        where = f"line {item.line}" if item.line is not None else f"record {item.record}"
        if item.row is None:
            raise ValueError(f"{path}: {where}: {item.reason} ({item.detail})")
        yield where, item.row


def _mcq_item(obj: dict, parse: Callable[[dict], dict[str, Any]], source: str) -> BenchmarkItem:
    question = obj.get("question")
    if not isinstance(question, str):
        raise Reject("wrong_type", "no text field 'question'")
    try:
        row = parse(obj)
    except Reject as r:
        return BenchmarkItem(question, source, issue=f"{r.reason}: {r.detail}")
    return BenchmarkItem(question, source, row["options"], row["answer_idx"])


def _read_huatuo_eval(path: Path) -> list[BenchmarkItem]:
    data = _load_json(path)
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise ValueError(f"{path}: expected a mapping from a source name to a list of records")
    parse = row_parser("medqa")
    items = []
    for source, records in data.items():
        for n, rec in enumerate(records, start=1):
            try:
                if not isinstance(rec, dict):
                    raise Reject("not_an_object", f"a JSON {type(rec).__name__}, not an object")
                items.append(_mcq_item(rec, parse, source))
            except Reject as r:
                raise ValueError(f"{path}: {source} record {n}: {r.reason} ({r.detail})") from None
    return items


def _table_records(path: Path, field: str) -> Iterator[tuple[str, Any]]:
    """(where, record) of a table file: 'record N' (1-based) or, for a JSON dict of records, 'record KEY'."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        if field not in pq.read_schema(path).names:
            raise ValueError(f"{path}: no column {field!r}")
        records = pq.read_table(path, columns=[field]).to_pylist()
    elif path.suffix in (".csv", ".tsv"):
        text = path.read_text(encoding="utf-8")
        records = list(csv.DictReader(io.StringIO(text), delimiter="\t" if path.suffix == ".tsv" else ","))
    elif path.suffix == ".jsonl":
        yield from _records(path, lambda obj: obj)
        return
    else:
        data = _load_json(path)
        if isinstance(data, dict):  # {id: record}, as PubMedQA's ori_pqal.json
            yield from ((f"record {key!r}", rec) for key, rec in data.items())
            return
        records = data if isinstance(data, list) else [data]
    yield from ((f"record {n}", rec) for n, rec in enumerate(records, start=1))


def _question(rec: Any, field: str, path: Path, where: str) -> str:
    if not isinstance(rec, dict) or not isinstance(rec.get(field), str):
        raise ValueError(f"{path}: {where} has no text field {field!r}")
    return rec[field]


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not JSON ({e})") from None
