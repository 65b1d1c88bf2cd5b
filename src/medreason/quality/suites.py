"""One suite per dataset boundary. Each returns the frame to validate and the checks it must pass.

Checks that need more than one column (the answer is one of the options) are computed here as columns, so every
rule is an ordinary Great Expectations expectation with a count of the rows that broke it.
"""

from __future__ import annotations

from medreason.config import SPLITS, MCQValidateConfig, ProblemsValidateConfig, SFTValidateConfig, SplitsValidateConfig
from medreason.format import has_marker
from medreason.data.schema import LETTERS, MAX_OPTIONS, MIN_OPTIONS, SOURCES
from medreason.quality.runner import Check


def mcq_suite(table, expect: MCQValidateConfig):
    """The canonical MCQ set, as the Arrow table of data/mcq/mcq.parquet. Row checks are vectorised in Arrow."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = table.num_rows
    options = table.column("options").combine_chunks()
    # pyarrow's list kernels do not all take map arrays: walk the offsets with numpy instead.
    offsets = np.asarray(options.offsets)
    n_options = np.diff(offsets)
    parents = np.repeat(np.arange(n), n_options)
    keys = options.keys.slice(offsets[0], offsets[-1] - offsets[0])
    texts = options.items.slice(offsets[0], offsets[-1] - offsets[0])

    def per_row(flat_ok) -> np.ndarray:
        """How many options of each row pass ``flat_ok``."""
        ok = np.asarray(pc.fill_null(flat_ok, False), dtype=float)
        return np.bincount(parents, weights=ok, minlength=n)

    answer_match = pc.and_(pc.equal(keys, pc.take(table.column("answer_idx"), parents)),
                           pc.equal(texts, pc.take(table.column("answer"), parents)))
    frame = pa.table({
        "id": table.column("id"),
        "source": table.column("source"),
        "answer_idx": table.column("answer_idx"),
        "question_chars": pc.fill_null(pc.utf8_length(pc.utf8_trim_whitespace(table.column("question"))), 0),
        "n_options": n_options,
        "option_letters_ok": per_row(pc.is_in(keys, value_set=pa.array(list(LETTERS)))) == n_options,
        "options_non_empty": per_row(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(texts)), 0)) == n_options,
        "answer_is_option": per_row(answer_match) > 0,
    }).to_pandas()
    col = lambda e, c, **kw: Check(e, {"column": c, **kw})  # noqa: E731
    checks = [
        Check("ExpectTableRowCountToBeBetween", {"min_value": expect.min_rows, "max_value": expect.max_rows}),
        col("ExpectColumnValuesToNotBeNull", "id"),
        col("ExpectColumnValuesToBeUnique", "id"),
        col("ExpectColumnValuesToMatchRegex", "id", regex=r"^[0-9a-f]{16}$"),
        col("ExpectColumnValuesToBeInSet", "source", value_set=list(SOURCES)),
        col("ExpectColumnValuesToBeBetween", "question_chars", min_value=1),
        col("ExpectColumnValuesToBeInSet", "answer_idx", value_set=list(LETTERS)),
        col("ExpectColumnValuesToBeBetween", "n_options", min_value=MIN_OPTIONS, max_value=MAX_OPTIONS),
        col("ExpectColumnValuesToBeInSet", "option_letters_ok", value_set=[True]),
        col("ExpectColumnValuesToBeInSet", "options_non_empty", value_set=[True]),
        col("ExpectColumnValuesToBeInSet", "answer_is_option", value_set=[True]),
    ]
    return frame, checks


def _problem_columns(rows: list[dict]) -> dict[str, list]:
    """Row checks of a problem, as columns (shared by the problems and the splits suites)."""
    from medreason.curate.rules import leaked_options

    return {
        "id": [r["id"] for r in rows],
        "mcq_id": [r["mcq_id"] for r in rows],
        "method": [r["method"] for r in rows],
        "verdict": [r["verdict"] for r in rows],
        "question_chars": [len((r["question"] or "").strip()) for r in rows],
        "ground_truth_words": [len((r["ground_truth"] or "").split()) for r in rows],
        "options_leaked": [leaked_options(r["question"] or "", r["options"] or {}) is not None for r in rows],
        "mcq_form_ok": [bool(r["options"]) and r["options"].get(r["answer_idx"]) == r["answer"] for r in rows],
    }


def _problem_checks(max_answer_words: int) -> list[Check]:
    col = lambda e, c, **kw: Check(e, {"column": c, **kw})  # noqa: E731
    return [
        col("ExpectColumnValuesToNotBeNull", "id"),
        col("ExpectColumnValuesToBeUnique", "id"),  # in the splits frame: no problem in two splits
        col("ExpectColumnValuesToMatchRegex", "id", regex=r"^[0-9a-f]{16}$"),
        col("ExpectColumnValuesToBeUnique", "mcq_id"),  # no MCQ behind two problems (or two splits)
        col("ExpectColumnValuesToMatchRegex", "mcq_id", regex=r"^[0-9a-f]{16}$"),
        col("ExpectColumnValuesToBeInSet", "method", value_set=["rule", "llm", "source"]),
        col("ExpectColumnValuesToBeInSet", "verdict", value_set=["Pass"]),  # null when the LLM filter is off
        col("ExpectColumnValuesToBeBetween", "question_chars", min_value=1),
        col("ExpectColumnValuesToBeBetween", "ground_truth_words", min_value=1, max_value=max_answer_words),
        col("ExpectColumnValuesToBeInSet", "options_leaked", value_set=[False]),
        col("ExpectColumnValuesToBeInSet", "mcq_form_ok", value_set=[True]),
    ]


def problems_suite(rows: list[dict], expect: ProblemsValidateConfig):
    """data/problems/problems.parquet, as rows."""
    import pandas as pd

    frame = pd.DataFrame(_problem_columns(rows))
    checks = [Check("ExpectTableRowCountToBeBetween", {"min_value": expect.min_rows}),
              *_problem_checks(expect.max_answer_words)]
    return frame, checks


def splits_suite(splits: dict[str, list[dict]], expect: SplitsValidateConfig, max_answer_words: int):
    """data/splits/*.parquet together: each problem's checks, plus no problem or MCQ in two splits and each split
    at least its minimum size."""
    import pandas as pd

    rows = [r for name in SPLITS for r in splits[name]]
    frame = pd.DataFrame(_problem_columns(rows))
    frame["split"] = [name for name in SPLITS for _ in splits[name]]
    frame["split_size_ok"] = [len(splits[name]) >= expect.min_rows.get(name, 0) for name in frame["split"]]
    required = [name for name in SPLITS if expect.min_rows.get(name, 0) > 0]
    checks = [
        Check("ExpectColumnValuesToBeInSet", {"column": "split", "value_set": list(SPLITS)}),
        Check("ExpectColumnDistinctValuesToContainSet", {"column": "split", "value_set": required}),
        Check("ExpectColumnValuesToBeInSet", {"column": "split_size_ok", "value_set": [True]}),
        *_problem_checks(max_answer_words),
    ]
    return frame, checks


def trajectories_suite(rows: list[dict], search_ids: set[str], expect: SFTValidateConfig):
    """data/search/trajectories.jsonl: one record per searched problem, consistent with its rounds."""
    import pandas as pd

    def chain_ok(t: dict) -> bool:  # a verified chain ends with its conclusion checked
        actions = [s["action"] for s in t["chain"]]
        return t["status"] != "verified" or actions[-2:] == ["Final Conclusion", "Verification"]

    frame = pd.DataFrame({
        "id": [t["id"] for t in rows],
        "status": [t["status"] for t in rows],
        "in_search_split": [t["id"] in search_ids for t in rows],
        "rounds": [len(t["rounds"]) for t in rows],
        "chain_ok": [chain_ok(t) for t in rows],
        "hint_verified": [not t["label_hinted"] or (t["status"] == "verified" and t["rounds"][-1]["verified"])
                          for t in rows],
    }, columns=["id", "status", "in_search_split", "rounds", "chain_ok", "hint_verified"])
    col = lambda e, c, **kw: Check(e, {"column": c, **kw})  # noqa: E731
    return frame, [
        col("ExpectColumnValuesToBeUnique", "id"),
        col("ExpectColumnValuesToBeInSet", "status", value_set=["verified", "failed"]),
        col("ExpectColumnValuesToBeInSet", "in_search_split", value_set=[True]),
        col("ExpectColumnValuesToBeBetween", "rounds", min_value=1),
        col("ExpectColumnValuesToBeInSet", "chain_ok", value_set=[True]),
        col("ExpectColumnValuesToBeInSet", "hint_verified", value_set=[True]),  # a label hint is still verified
    ]


def sft_suite(rows: list[dict], search_ids: set[str], expect: SFTValidateConfig):
    """data/sft/train.jsonl: the three fields non-empty, no training headers inside them, ids unique, every
    searched record from the search split."""
    import pandas as pd

    frame = pd.DataFrame({
        "id": [r["id"] for r in rows],
        "source": [r["source"] for r in rows],
        **{f"{f}_chars": [len((r.get(f) or "").strip()) for r in rows] for f in ("Question", "Complex_CoT", "Response")},
        "headers_inside": [has_marker(r["Complex_CoT"]) or has_marker(r["Response"]) for r in rows],
        "from_search_split": [r["source"] != "search" or r["id"] in search_ids for r in rows],
    }, columns=["id", "source", "Question_chars", "Complex_CoT_chars", "Response_chars", "headers_inside",
                "from_search_split"])
    col = lambda e, c, **kw: Check(e, {"column": c, **kw})  # noqa: E731
    return frame, [
        Check("ExpectTableRowCountToBeBetween", {"min_value": expect.min_rows}),
        col("ExpectColumnValuesToBeUnique", "id"),
        col("ExpectColumnValuesToBeInSet", "source", value_set=["search", "file"]),
        *(col("ExpectColumnValuesToBeBetween", f"{f}_chars", min_value=1)
          for f in ("Question", "Complex_CoT", "Response")),
        col("ExpectColumnValuesToBeInSet", "headers_inside", value_set=[False]),
        col("ExpectColumnValuesToBeInSet", "from_search_split", value_set=[True]),
    ]


SUITES = {"mcq": mcq_suite, "problems": problems_suite, "splits": splits_suite, "trajectories": trajectories_suite,
          "sft": sft_suite}
