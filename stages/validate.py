"""Stage validate: run a dataset's Great Expectations suite; a violation stops `dvc repro` here.

    python stages/validate.py mcq             # what `dvc repro validate_mcq` runs

Writes reports/validate_<dataset>.json (a DVC metric) and HTML data docs under reports/gx/<dataset>/.
"""

import argparse
import sys

from medreason.config import load_params
from medreason.quality.runner import ValidationFailed, require, run_suite, write_summary
from medreason.quality.suites import SUITES
from medreason.tracking import log_dataset, stage_run

DATASETS = {"mcq": "data/mcq/mcq.parquet"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(DATASETS))
    dataset = parser.parse_args().dataset
    expectations = getattr(load_params().validate, dataset)
    path = DATASETS[dataset]
    try:
        with stage_run(f"validate_{dataset}", expectations):  # a violation marks the MLflow run FAILED
            import mlflow
            import pyarrow.parquet as pq

            frame, checks = SUITES[dataset](pq.read_table(path), expectations)
            log_dataset(path, name=dataset, context="validated")
            summary = run_suite(dataset, frame, checks, docs_dir=f"reports/gx/{dataset}")
            write_summary(summary, f"reports/validate_{dataset}.json")
            mlflow.log_metrics({"rows": summary["rows"], "expectations": summary["evaluated"],
                                "failed_expectations": summary["failed"]})
            require(summary)
    except ValidationFailed as e:
        sys.exit(str(e))
    print(f"validate {dataset}: {summary['rows']} rows passed {summary['evaluated']} expectations")


if __name__ == "__main__":
    main()
