import json
import subprocess
import sys

import pytest

from medreason.config import MCQValidateConfig, SourceConfig, load_params
from medreason.data.ingest import ingest, read_mcq, to_table, write_outputs
from medreason.quality.runner import ValidationFailed, require, run_suite
from medreason.quality.suites import mcq_suite

from conftest import ROOT


@pytest.fixture(scope="module")
def sample_mcq(tmp_path_factory):
    """The shipped sample, ingested as the stage does: the dataset CI validates."""
    out = tmp_path_factory.mktemp("mcq")
    sources = [SourceConfig(**{**s.__dict__, "path": str(ROOT / s.path)})
               for s in load_params(ROOT / "params.yaml").ingest.sources]
    write_outputs(ingest(sources), out)
    return read_mcq(out / "mcq.parquet")


def as_table(df):
    """A DataFrame in read_mcq's form back to the Arrow table the stage writes and validates."""
    records = df.astype(object).where(df.notna(), None).to_dict("records")
    for r in records:
        r["extra"] = json.loads(r["extra"]) if r["extra"] else {}
    return to_table(records)


def validate(df, **expect):
    frame, checks = mcq_suite(as_table(df), MCQValidateConfig(**expect))
    return run_suite("mcq", frame, checks)


def test_shipped_sample_passes_the_mcq_suite(sample_mcq, tmp_path):
    summary = run_suite("mcq", *mcq_suite(as_table(sample_mcq), load_params(ROOT / "params.yaml").validate.mcq),
                        docs_dir=tmp_path / "docs")
    require(summary)
    assert summary["rows"] == len(sample_mcq) >= 120 and summary["failed"] == 0 and summary["evaluated"] >= 10
    assert (tmp_path / "docs" / "index.html").is_file()
    assert list((tmp_path / "docs" / "validations").rglob("*.html"))


def _bad_options(df):
    df.at[1, "options"] = {"A": "only one"}
    df.at[1, "answer_idx"], df.at[1, "answer"] = "A", "only one"


def _bad_letter(df):
    df.at[2, "options"] = {**df.at[2, "options"], "Z": "extra"}


def _empty_option(df):
    df.at[3, "options"] = {**df.at[3, "options"], "B": "  "}


VIOLATIONS = {
    "duplicate id": (lambda df: df.__setitem__("id", [df["id"][0]] * 2 + list(df["id"][2:])),
                     "expect_column_values_to_be_unique(id)", 2),
    "malformed id": (lambda df: df.__setitem__("id", ["XYZ"] + list(df["id"][1:])),
                     "expect_column_values_to_match_regex(id)", 1),
    "null id": (lambda df: df.__setitem__("id", [None] + list(df["id"][1:])),
                "expect_column_values_to_not_be_null(id)", 1),
    "empty question": (lambda df: df.__setitem__("question", ["  "] * 3 + list(df["question"][3:])),
                       "expect_column_values_to_be_between(question_chars)", 3),
    "answer letter outside A-E": (lambda df: df.__setitem__("answer_idx", ["F"] + list(df["answer_idx"][1:])),
                                  "expect_column_values_to_be_in_set(answer_idx)", 1,
                                  "expect_column_values_to_be_in_set(answer_is_option)"),
    "answer not among options": (lambda df: df.__setitem__("answer", ["Something else"] * 4 + list(df["answer"][4:])),
                                 "expect_column_values_to_be_in_set(answer_is_option)", 4),
    "one option": (_bad_options, "expect_column_values_to_be_between(n_options)", 1),
    "letter outside A-E": (_bad_letter, "expect_column_values_to_be_in_set(option_letters_ok)", 1),
    "blank option": (_empty_option, "expect_column_values_to_be_in_set(options_non_empty)", 1),
    "unknown source": (lambda df: df.__setitem__("source", ["pubmed"] * 2 + list(df["source"][2:])),
                       "expect_column_values_to_be_in_set(source)", 2),
}


@pytest.mark.parametrize("kind", sorted(VIOLATIONS))
def test_suite_catches_each_kind_of_violation(sample_mcq, kind):
    spoil, expectation, rows, *also = VIOLATIONS[kind]
    df = sample_mcq.copy()
    df["options"] = [dict(o) for o in df["options"]]
    spoil(df)
    summary = validate(df)
    failed = {k: v for k, v in summary["results"].items() if not v["success"]}
    assert sorted(failed) == sorted([expectation, *also])
    assert failed[expectation]["unexpected_count"] == rows
    with pytest.raises(ValidationFailed) as e:
        require(summary)
    assert f"{expectation}: {rows} row(s) unexpected" in str(e.value)


def test_row_count_bounds(sample_mcq):
    summary = validate(sample_mcq, min_rows=500)
    assert not summary["results"]["expect_table_row_count_to_be_between"]["success"]
    assert summary["results"]["expect_table_row_count_to_be_between"]["observed"] == len(sample_mcq)


def test_validate_stage_fails_readably_on_a_bad_dataset(sample_mcq, tmp_path, mlflow_store):
    """stages/validate.py exits non-zero, prints what failed, still writes its summary, marks the run FAILED."""
    import mlflow
    import pyarrow.parquet as pq

    df = sample_mcq.copy()
    df.loc[0, "answer"] = "not an option"
    (tmp_path / "data" / "mcq").mkdir(parents=True)
    pq.write_table(as_table(df), tmp_path / "data" / "mcq" / "mcq.parquet")
    (tmp_path / "params.yaml").write_text((ROOT / "params.yaml").read_text())
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / "validate.py"), "mcq"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "expect_column_values_to_be_in_set(answer_is_option): 1 row(s) unexpected" in proc.stderr
    summary = json.loads((tmp_path / "reports" / "validate_mcq.json").read_text())
    assert summary["success"] is False and summary["failed"] == 1
    assert (tmp_path / "reports" / "gx" / "mcq" / "index.html").is_file()
    (run,) = mlflow.MlflowClient(mlflow_store).search_runs(
        [mlflow.get_experiment_by_name("medreason").experiment_id], filter_string="")
    assert run.info.status == "FAILED" and run.data.metrics["failed"] == 1


def test_frame_with_no_rows_fails_row_count():
    summary = run_suite("mcq", *mcq_suite(to_table([]), MCQValidateConfig()))
    assert not summary["success"]
    assert not summary["results"]["expect_table_row_count_to_be_between"]["success"]
