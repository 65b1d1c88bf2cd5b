"""Stage validate: run a dataset's Great Expectations suite; a violation stops `dvc repro` here.

    python stages/validate.py mcq             # what `dvc repro validate_mcq` runs (also: problems, splits,
                                              # trajectories, sft)

Writes reports/validate_<dataset>.json (a DVC metric) and HTML data docs under reports/gx/<dataset>/.
"""

import argparse
import sys
from pathlib import Path

from medreason.config import SPLITS, load_params
from medreason.quality.runner import ValidationFailed, require, run_suite
from medreason.quality.suites import mcq_suite, problems_suite, sft_suite, splits_suite, trajectories_suite
from medreason.tracking import log_dataset, publish, stage_run

DATASETS = {
    "mcq": ["data/mcq/mcq.parquet"],
    "problems": ["data/problems/problems.parquet"],
    "splits": [f"data/splits/{name}.parquet" for name in SPLITS],
    "trajectories": ["data/search/trajectories.jsonl"],
    "sft": ["data/sft/train.jsonl"],
}


def suite(dataset: str, expect):
    """The frame to validate and its checks."""
    import pyarrow.parquet as pq

    from medreason.data.frames import read_jsonl, read_rows

    paths = DATASETS[dataset]
    if dataset == "mcq":
        return mcq_suite(pq.read_table(paths[0]), expect.mcq)
    if dataset == "problems":
        return problems_suite(read_rows(paths[0]), expect.problems)
    if dataset == "splits":
        splits = {name: read_rows(path) for name, path in zip(SPLITS, paths)}
        return splits_suite(splits, expect.splits, expect.problems.max_answer_words)
    rows = read_jsonl(paths[0])
    search_ids = {p["id"] for p in read_rows("data/splits/search.parquet")}
    return (trajectories_suite if dataset == "trajectories" else sft_suite)(rows, search_ids, expect.sft)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(DATASETS))
    dataset = parser.parse_args().dataset
    expect = load_params().validate
    try:
        with stage_run(f"validate_{dataset}", expect):  # a violation marks the MLflow run FAILED
            frame, checks = suite(dataset, expect)
            for path in DATASETS[dataset]:
                log_dataset(path, name=Path(path).stem, context="validated")
            summary = run_suite(dataset, frame, checks, docs_dir=f"reports/gx/{dataset}")
            publish(summary, f"reports/validate_{dataset}.json")
            require(summary)
    except ValidationFailed as e:
        sys.exit(str(e))
    print(f"validate {dataset}: {summary['rows']} rows passed {summary['evaluated']} expectations")


if __name__ == "__main__":
    main()
