"""Benchmarks (params.yaml ``benchmarks``): every format read from a small file, absent files skipped and reported
unless required, malformed records named by file and position."""

from __future__ import annotations

import json

import pytest

from medreason.config import BenchmarkConfig, load_params
from medreason.data.benchmarks import BenchmarkItem, benchmark_questions, load_benchmarks, read_benchmark
from medreason.data.frames import write_rows
from medreason.tracking import file_md5

from conftest import ROOT

MEDQA = {"question": "Which drug reverses heparin?", "options": {"A": "Protamine", "B": "Vitamin K"},
         "answer_idx": "A", "answer": "Protamine"}
MEDMCQA = {"question": "The only abductor of the vocal cords is:", "opa": "Cricothyroid", "opb": "Lateral",
           "opc": "Transverse", "opd": "Posterior cricoarytenoid", "cop": 4, "id": "x1"}


def bench(tmp_path, name, fmt, text=None, **kw) -> BenchmarkConfig:
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    return BenchmarkConfig(name=name.split(".")[0], format=fmt, path=str(path), **kw)


def test_native_formats_read_as_the_ingest_reads_them(tmp_path):
    (item,) = read_benchmark(bench(tmp_path, "medqa.jsonl", "medqa", json.dumps(MEDQA) + "\n\n"))
    assert item == BenchmarkItem(MEDQA["question"], "medqa", {"A": "Protamine", "B": "Vitamin K"}, "A")
    (item,) = read_benchmark(bench(tmp_path, "dev.json", "medmcqa", json.dumps(MEDMCQA) + "\n", cop_base=1))
    assert (item.question, item.source, item.answer_idx, item.options["D"]) == (
        MEDMCQA["question"], "dev", "D", "Posterior cricoarytenoid")
    huatuo = {**MEDQA, "Open-ended Verifiable Question": "What reverses heparin?", "Ground-True Answer": "Protamine"}
    (item,) = read_benchmark(bench(tmp_path, "h.json", "huatuo", json.dumps([huatuo])))
    assert item.question == MEDQA["question"] and item.answer_idx == "A"


def test_a_record_the_mcq_parser_rejects_keeps_its_question(tmp_path):
    """Decontamination needs every question; evaluation sees why the record is not a usable MCQ."""
    bad = {**MEDQA, "options": {"A": "Protamine", "B": "protamine"}}  # duplicate options
    (item,) = read_benchmark(bench(tmp_path, "medqa.jsonl", "medqa", json.dumps(bad)))
    assert item.question == MEDQA["question"] and item.options is None
    assert item.issue.startswith("duplicate_options")


def test_huatuo_eval_keeps_each_record_source(tmp_path):
    data = {"MedQA_USLME_test": [MEDQA], "PubMedQA_test": [
        {"question": "Does aspirin prevent X?", "options": {"A": "yes", "B": "no", "C": "maybe"}, "answer_idx": "B"}]}
    items = read_benchmark(bench(tmp_path, "eval_data.json", "huatuo_eval", json.dumps(data)))
    assert [(i.source, i.answer_idx) for i in items] == [("MedQA_USLME_test", "A"), ("PubMedQA_test", "B")]
    assert items[1].options == {"A": "yes", "B": "no", "C": "maybe"}


def test_table_layouts(tmp_path):
    """PubMedQA's ori_pqal.json (a dict of records), GPQA's CSV, MMLU-Pro's Parquet, JSON lines, TSV, a JSON list."""
    pubmedqa = json.dumps({"111": {"QUESTION": "q3"}, "222": {"QUESTION": "q4"}})
    cases = [
        (bench(tmp_path, "a.jsonl", "table", '{"question": "q1"}\n\n{"question": "q2"}\n'), ["q1", "q2"]),
        (bench(tmp_path, "b.json", "table", pubmedqa, field="QUESTION"), ["q3", "q4"]),
        (bench(tmp_path, "c.json", "table", json.dumps([{"question": "q5"}])), ["q5"]),
        (bench(tmp_path, "d.csv", "table", 'Question,Answer\n"q7, with a comma",x\n', field="Question"),
         ["q7, with a comma"]),
        (bench(tmp_path, "e.tsv", "table", "question\tanswer\nq8\tx\n"), ["q8"]),
    ]
    write_rows([{"question": "q9", "options": None}], tmp_path / "f.parquet")
    cases.append((bench(tmp_path, "f.parquet", "table"), ["q9"]))
    for spec, questions in cases:
        items = read_benchmark(spec)
        assert [i.question for i in items] == questions, spec.path
        assert all(i.source == spec.name and i.options is None for i in items)


@pytest.mark.parametrize("name, fmt, text, field, message", [
    ("b.json", "table", json.dumps({"111": {"QUESTION": "q"}}), "question", "record '111' has no text field"),
    ("c.json", "table", json.dumps([{"question": "q"}, {"question": 3}]), "question", "record 2 has no text field"),
    ("d.csv", "table", "Question\nq\n", "question", "record 1 has no text field 'question'"),
    ("e.jsonl", "table", '{"question": "q"}\n{"question": "q2"\n', "question", "line 2: invalid_json"),
    ("f.jsonl", "medqa", json.dumps(MEDQA) + '\n{"options": {}}\n', "question", "line 2: wrong_type"),
    ("g.json", "huatuo_eval", json.dumps({"MedQA": [MEDQA, ["not", "a", "record"]]}), "question",
     "MedQA record 2: not_an_object"),
    ("h.json", "huatuo_eval", json.dumps([MEDQA]), "question", "expected a mapping from a source name"),
    ("i.json", "table", "{not json", "question", "not JSON"),
])
def test_a_malformed_record_is_an_error_naming_file_and_record(tmp_path, name, fmt, text, field, message):
    """A silent gap would let contamination through."""
    spec = bench(tmp_path, name, fmt, text, field=field)
    with pytest.raises(ValueError, match=message) as e:
        read_benchmark(spec)
    assert str(e.value).startswith(spec.path)


def test_a_parquet_without_the_column_names_it(tmp_path):
    write_rows([{"Question": "q"}], tmp_path / "p.parquet")
    with pytest.raises(ValueError, match="p.parquet: no column 'question'"):
        read_benchmark(bench(tmp_path, "p.parquet", "table"))


def test_absent_files_are_skipped_and_reported_unless_required(tmp_path):
    present = bench(tmp_path, "medqa.jsonl", "medqa", json.dumps(MEDQA) + "\n")
    absent = bench(tmp_path, "gpqa.csv", "table", field="Question")
    sets, info = load_benchmarks((present, absent))
    assert list(sets) == ["medqa"] and len(sets["medqa"]) == 1
    assert info == [{"name": "medqa", "path": present.path, "questions": 1, "md5": file_md5(present.path)},
                    {"name": "gpqa", "path": absent.path, "skipped": "file not found"}]
    assert benchmark_questions((present, absent)) == ({"medqa": [MEDQA["question"]]}, info)
    required = BenchmarkConfig(name="gpqa", format="table", path=absent.path, required=True)
    with pytest.raises(FileNotFoundError, match="benchmarks gpqa: .*gpqa.csv not found"):
        load_benchmarks((present, required))


def test_params_yaml_lists_the_six_benchmarks_of_data_eval_readme():
    benchmarks = load_params(ROOT / "params.yaml").benchmarks
    readme = (ROOT / "data" / "eval" / "README.md").read_text()
    assert [b.name for b in benchmarks] == ["medqa_test", "medmcqa_dev", "pubmedqa", "mmlu_pro", "gpqa", "huatuo_eval"]
    for b in benchmarks:
        assert b.path.startswith("data/eval/") and f"| {b.name} | {b.format} |" in readme, b.name
