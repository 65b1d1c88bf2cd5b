"""Stage difficulty: every configured answerer answers every MCQ -> data/curate/difficulty.parquet (one letter
column pred_<name> per answerer) and reports/difficulty.json. The curate stage applies the rule, so changing the rule never
re-runs a model; answers are cached in data/cache/difficulty/ (an interrupted run resumes). A request that still
fails after its retries fails the stage (a missing answer would quietly count as "not answered correctly" and weaken
the filter); a re-run asks only what is missing.

    python stages/difficulty.py               # what `dvc repro difficulty` runs
"""

from medreason.config import load_params
from medreason.curate.difficulty import answer_all
from medreason.data.frames import read_rows, write_rows
from medreason.tracking import log_dataset, publish, stage_run

MCQ = "data/mcq/mcq.parquet"
OUT = "data/curate/difficulty.parquet"
REPORT = "reports/difficulty.json"
CACHE_DIR = "data/cache/difficulty"


def main() -> None:
    params = load_params()
    answerers = params.curate.answerers
    with stage_run("difficulty", {"answerers": answerers}):
        rows = read_rows(MCQ)
        log_dataset(MCQ, name="mcq", context="input")
        out = [{"id": r["id"]} for r in rows]
        report, execution = {"mcq": len(rows), "answerers": {}}, {"answerers": {}}
        for answerer in answerers:
            letters, usage = answer_all(answerer, rows, CACHE_DIR, params.llm.prices)
            correct = sum(letter == r["answer_idx"] for letter, r in zip(letters, rows))
            for o, letter in zip(out, letters):
                o[f"pred_{answerer.name}"] = letter
            report["answerers"][answerer.name] = {
                "accuracy": round(correct / max(1, len(rows)), 4), "no_answer": letters.count(None)}
            execution["answerers"][answerer.name] = usage
            print(f"difficulty: {answerer.name} answered {correct}/{len(rows)} correctly")
        write_rows(out, OUT, columns=["id", *(f"pred_{a.name}" for a in answerers)])
        publish(report, REPORT, execution)


if __name__ == "__main__":
    main()
