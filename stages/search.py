"""Stage search: the teacher searches verified reasoning trajectories for the search split's problems.

    python stages/search.py                   # what `dvc repro search` runs

Writes data/search/trajectories.jsonl (every problem: status, every round with its strategy, steps and verdict,
label_hinted, tokens, cost), reports/search.json and reports/plots/search_strategies.csv. The teacher's and the
judge's answers are cached in data/cache/search/ (a persistent out): an interrupted or re-run search pays only for
what it has not asked. With search.source: file the stage searches nothing (compose reads the file).
"""

from pathlib import Path

from medreason.config import load_params
from medreason.data.frames import read_rows, write_jsonl
from medreason.tracking import log_dataset, publish, publish_csv, stage_run

SPLIT = "data/splits/search.parquet"
OUT = Path("data/search/trajectories.jsonl")
REPORT = Path("reports/search.json")
PLOT = Path("reports/plots/search_strategies.csv")
CACHE = Path("data/cache/search")


def main() -> None:
    params = load_params()
    cfg = params.search
    CACHE.mkdir(parents=True, exist_ok=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with stage_run("search", cfg):
        from medreason.llm.client import LLMClient
        from medreason.search.engine import Search, search_report
        from medreason.verify import role_verifier

        problems = sorted(read_rows(SPLIT), key=lambda p: p["id"]) if cfg.source == "search" else []
        if cfg.max_problems:
            problems = problems[:cfg.max_problems]
        log_dataset(SPLIT, name="split_search", context="input")
        trajectories, execution = [], {}
        if problems:  # (source: file searches nothing: no model to load)
            verifier = role_verifier("search", params.verify, params.llm,
                                     cache_path=str(CACHE / "judge.sqlite"))
            teacher = LLMClient(params.llm.teacher, cache_path=CACHE / "teacher.sqlite", prices=params.llm.prices)
            with teacher:
                trajectories = Search(cfg, teacher, verifier).run(problems)
            execution = {"teacher": teacher.report()}
        write_jsonl(trajectories, OUT)
        report = {**search_report(trajectories), "source": cfg.source}
        publish(report, REPORT, execution)
        publish_csv(({"strategy": s, **v} for s, v in report["strategies"].items()), PLOT,
                    ["strategy", "used", "verified", "success_rate"])
    print(f"search: {report['problems']} problems, {report['verified']} verified "
          f"({report['label_hinted']} label-hinted), success rate {report['success_rate']}")


if __name__ == "__main__":
    main()
