"""Stage split: problems -> decontaminated search / rl / eval splits, and the whole curation funnel.

    python stages/split.py                    # what `dvc repro split` runs

Writes data/splits/{search,rl,eval}.parquet (eval keeps the MCQ form), data/splits/assignments.parquet (every
problem: its split, kept / contaminated / over_cap and why), reports/split.json and reports/plots/funnel.csv
(`dvc plots show`). The benchmark files (params benchmarks) are read when present; data/eval/ is a dependency, so
adding or changing a file there re-runs the stage, and the report lists the md5 of each file read.
"""

import json
from pathlib import Path

from medreason.config import SPLITS, load_params
from medreason.curate.problems import PROBLEM_COLUMNS
from medreason.curate.split import ASSIGNMENT_COLUMNS, funnel_counts, funnel_rows, split_problems
from medreason.data.benchmarks import benchmark_questions
from medreason.data.frames import read_rows, write_rows
from medreason.tracking import log_dataset, publish, publish_csv, stage_run

PROBLEMS = "data/problems/problems.parquet"
CURATE_REPORT = Path("reports/curate.json")
OUT_DIR = Path("data/splits")
REPORT = Path("reports/split.json")
FUNNEL = Path("reports/plots/funnel.csv")


def main() -> None:
    params = load_params()
    cfg = params.split
    with stage_run("split", cfg):
        import mlflow

        problems = read_rows(PROBLEMS)
        eval_sets, eval_info = benchmark_questions(params.benchmarks)
        result = split_problems(problems, cfg, eval_sets)
        for name in SPLITS:
            write_rows(result.splits[name], OUT_DIR / f"{name}.parquet", columns=PROBLEM_COLUMNS)
        write_rows(result.assignments, OUT_DIR / "assignments.parquet", columns=ASSIGNMENT_COLUMNS)
        report = {**result.report, "benchmarks": eval_info}
        funnel = funnel_rows(json.loads(CURATE_REPORT.read_text()), result.report)
        report["funnel"] = funnel_counts(funnel)
        publish(report, REPORT)
        publish_csv(funnel, FUNNEL, ["step", "count"])
        log_dataset(PROBLEMS, name="problems", context="input")
        for name in SPLITS:
            log_dataset(OUT_DIR / f"{name}.parquet", name=f"split_{name}", context="output")
        mlflow.log_figure(funnel_figure(funnel), "funnel.png")
    kept = result.report["kept"]
    print(f"split: {len(problems)} problems -> search {kept['search']}, rl {kept['rl']}, eval {kept['eval']}; "
          f"contaminated {sum(result.report['contaminated'].values())}, over cap "
          f"{sum(result.report['over_cap'].values())}")


def funnel_figure(funnel):
    """The funnel as a horizontal bar chart for the MLflow UI (DVC draws its own from the CSV)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 0.4 * len(funnel) + 1))
    ax.barh([row["step"][3:] for row in funnel][::-1], [row["count"] for row in funnel][::-1])
    ax.set_xlabel("items")
    ax.set_title("curation funnel")
    fig.tight_layout()
    return fig


if __name__ == "__main__":
    main()
