"""Stage curate: MCQs + difficulty predictions -> verifiable open-ended problems.

    python stages/curate.py                   # what `dvc repro curate` runs

Writes data/problems/problems.parquet (the problems), data/problems/ledger.parquet (every MCQ: each step's
outcome, where it left and why) and reports/curate.json (the funnel). With llm_filter on or reformulate: llm, the
teacher (params llm.teacher) answers through the client; its cache (data/cache/curate/) survives re-runs.
"""

from contextlib import nullcontext
from pathlib import Path

from medreason.config import load_params
from medreason.curate.problems import PROBLEM_COLUMNS, curate
from medreason.data.frames import read_rows, write_rows
from medreason.tracking import log_dataset, publish, stage_run

MCQ = "data/mcq/mcq.parquet"
DIFFICULTY = "data/curate/difficulty.parquet"
OUT_DIR = Path("data/problems")
REPORT = Path("reports/curate.json")
CACHE = Path("data/cache/curate/teacher.sqlite")


def main() -> None:
    params = load_params()
    cfg = params.curate
    CACHE.parent.mkdir(parents=True, exist_ok=True)  # a DVC out even when no LLM step runs
    with stage_run("curate", cfg):
        rows = read_rows(MCQ)
        by_id = {p["id"]: p for p in read_rows(DIFFICULTY)}
        columns = {f"pred_{a.name}" for a in cfg.answerers}
        missing = [r["id"] for r in rows if r["id"] not in by_id or not columns <= by_id[r["id"]].keys()]
        if missing:
            raise SystemExit(f"curate: {len(missing)} MCQs lack predictions of {sorted(columns)} (e.g. {missing[0]}) "
                             f"in {DIFFICULTY}: re-run the difficulty stage")
        predictions = {a.name: [by_id[r["id"]][f"pred_{a.name}"] for r in rows] for a in cfg.answerers}
        teacher = None
        if cfg.llm_filter or cfg.reformulate == "llm":
            from medreason.llm.client import LLMClient

            teacher = LLMClient(params.llm.teacher, cache_path=CACHE, prices=params.llm.prices)
        with teacher or nullcontext():
            result = curate(rows, predictions, cfg, teacher)
        write_rows(result.problems, OUT_DIR / "problems.parquet", columns=PROBLEM_COLUMNS)
        write_rows(result.ledger, OUT_DIR / "ledger.parquet")
        publish(result.report, REPORT, {"llm": teacher.report()} if teacher is not None else None)
        log_dataset(MCQ, name="mcq", context="input")
        log_dataset(OUT_DIR / "problems.parquet", name="problems", context="output")
    r = result.report
    print(f"curate: {r['in']} MCQs -> {r['kept']} problems; dropped {r['dropped']}: {r['by_reason']}")


if __name__ == "__main__":
    main()
