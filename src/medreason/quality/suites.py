"""One suite per dataset boundary. Each returns the frame to validate and the checks it must pass.

Checks that need more than one column (the answer is one of the options) are computed here as boolean columns,
so every rule is an ordinary Great Expectations expectation with a count of the rows that broke it.
"""

from __future__ import annotations

from medreason.config import MCQExpectations
from medreason.data.schema import LETTERS, MAX_OPTIONS, MIN_OPTIONS, SOURCES
from medreason.quality.runner import Check


def mcq_suite(df, expect: MCQExpectations):
    """The canonical MCQ set (data/mcq/mcq.parquet, options as dicts)."""
    frame = df[["id", "source", "question", "answer_idx", "answer"]].copy()
    options = df["options"]
    frame["n_options"] = [len(o) for o in options]
    frame["option_letters_ok"] = [all(k in LETTERS for k in o) for o in options]
    frame["options_non_empty"] = [all(isinstance(t, str) and t.strip() for t in o.values()) for o in options]
    frame["answer_is_option"] = [o.get(i) == a for o, i, a in zip(options, df["answer_idx"], df["answer"])]
    frame["question_stripped"] = df["question"].fillna("").str.strip()
    col = lambda e, c, **kw: Check(e, {"column": c, **kw})  # noqa: E731
    checks = [
        Check("ExpectTableRowCountToBeBetween", {"min_value": expect.min_rows, "max_value": expect.max_rows}),
        col("ExpectColumnValuesToNotBeNull", "id"),
        col("ExpectColumnValuesToBeUnique", "id"),
        col("ExpectColumnValuesToMatchRegex", "id", regex=r"^[0-9a-f]{16}$"),
        col("ExpectColumnValuesToBeInSet", "source", value_set=list(SOURCES)),
        col("ExpectColumnValueLengthsToBeBetween", "question_stripped", min_value=1),
        col("ExpectColumnValuesToBeInSet", "answer_idx", value_set=list(LETTERS)),
        col("ExpectColumnValuesToBeBetween", "n_options", min_value=MIN_OPTIONS, max_value=MAX_OPTIONS),
        col("ExpectColumnValuesToBeInSet", "option_letters_ok", value_set=[True]),
        col("ExpectColumnValuesToBeInSet", "options_non_empty", value_set=[True]),
        col("ExpectColumnValuesToBeInSet", "answer_is_option", value_set=[True]),
    ]
    return frame, checks


SUITES = {"mcq": mcq_suite}
