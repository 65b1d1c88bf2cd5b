"""One suite per dataset boundary. Each returns the frame to validate and the checks it must pass.

Checks that need more than one column (the answer is one of the options) are computed here as columns, so every
rule is an ordinary Great Expectations expectation with a count of the rows that broke it.
"""

from __future__ import annotations

from medreason.config import MCQExpectations
from medreason.data.schema import LETTERS, MAX_OPTIONS, MIN_OPTIONS, SOURCES
from medreason.quality.runner import Check


def mcq_suite(table, expect: MCQExpectations):
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


SUITES = {"mcq": mcq_suite}
