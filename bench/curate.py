"""Benchmark: the rule path of curation (filters, rewrite, decontamination, split) on the 192K synthetic MCQ set.

    python bench/curate.py                     # full scale (what `make bench` runs); a few minutes, mostly set-up
    python bench/curate.py --scale 0.05        # a quick try

Set-up (not timed): the foundation benchmark's seeded generator (bench/ingest.py) writes 10,178 MedQA + 182,822
MedMCQA records; the ingest turns them into canonical MCQs. A 10,000-question evaluation set is generated with
another seed, and 1% of it are verbatim copies of training questions (planted contamination).

Timed, in the same process: ``curate`` (length + rules + rule rewrite + dedup; no difficulty models, no LLM) ->
``split_problems`` (64-character decontamination against the 10K evaluation questions and our own eval split,
then the seeded split) -> writing problems, ledger and splits as Parquet. Then decontamination alone
(``find_overlaps``, the same inputs; the bare rule, then with the pipeline's boilerplate allowance) against the
naive baseline: Python substring search of every evaluation
window in each problem, on a 200-problem sample, extrapolated. The last stdout line is one JSON object; the
target is the whole rule path under 60 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 60
EVAL_QUESTIONS = 10_000
PLANTED_SHARE = 0.01
NAIVE_SAMPLE = 200


def foundation_bench():
    """bench/ingest.py as a module (its generator and record counts)."""
    spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()

    from medreason.config import CurateConfig, SourceConfig, SplitConfig
    from medreason.curate.decontam import find_overlaps, naive_find_overlaps
    from medreason.curate.problems import PROBLEM_COLUMNS, curate
    from medreason.curate.split import split_problems
    from medreason.data.frames import read_rows, write_rows
    from medreason.data.ingest import ingest, write_outputs
    from medreason.data.schema import normalise

    fb = foundation_bench()
    log = fb.log
    n_medqa, n_medmcqa = max(10, round(fb.MEDQA_RECORDS * args.scale)), max(10, round(fb.MEDMCQA_RECORDS * args.scale))
    with tempfile.TemporaryDirectory(prefix="bench-curate-") as tmp:
        tmp = Path(tmp)
        log(f"set-up: generating and ingesting {n_medqa:,} MedQA + {n_medmcqa:,} MedMCQA records")
        gen = fb.Gen(random.Random(args.seed))
        fb.write_source(tmp / "medqa.jsonl", n_medqa, "medqa", gen)
        fb.write_source(tmp / "medmcqa.json", n_medmcqa, "medmcqa", gen)
        result = ingest([SourceConfig("medqa", str(tmp / "medqa.jsonl")),
                         SourceConfig("medmcqa", str(tmp / "medmcqa.json"), cop_base=1)])
        write_outputs(result, tmp / "mcq")
        del result
        rows = read_rows(tmp / "mcq" / "mcq.parquet")
        n_eval = max(10, round(EVAL_QUESTIONS * args.scale))
        eval_gen = fb.Gen(random.Random(args.seed + 1))
        evals = [(eval_gen.medqa() if i % 10 == 0 else eval_gen.medmcqa())["question"] for i in range(n_eval)]
        rng = random.Random(args.seed + 2)
        planted = rng.sample(range(len(rows)), round(n_eval * PLANTED_SHARE))
        for k, n in enumerate(planted):
            evals[k] = rows[n]["question"]
        log(f"set-up done: {len(rows):,} MCQs, {n_eval:,} evaluation questions ({len(planted)} planted copies)")

        cfg = CurateConfig(min_question_chars=30)
        split_cfg = SplitConfig(max_sizes={"search": 20_000, "rl": 20_000})
        t0 = time.perf_counter()
        curated = curate(rows, {}, cfg)
        t1 = time.perf_counter()
        splits = split_problems(curated.problems, split_cfg, {"bench_eval": evals})
        t2 = time.perf_counter()
        write_rows(curated.problems, tmp / "problems.parquet", columns=PROBLEM_COLUMNS)
        write_rows(curated.ledger, tmp / "ledger.parquet")
        for name, split_rows in splits.splits.items():
            write_rows(split_rows, tmp / f"{name}.parquet", columns=PROBLEM_COLUMNS)
        write_rows(splits.assignments, tmp / "assignments.parquet")
        t3 = time.perf_counter()
        log(f"rule path: curate {t1 - t0:.2f}s, split {t2 - t1:.2f}s, write {t3 - t2:.2f}s")

        # Decontamination alone, the same texts as inside split_problems (mcq question + open question per
        # problem), against the evaluation questions: the bare 64-character rule (what the naive baseline
        # computes), then with the boilerplate allowance the pipeline uses.
        problems = curated.problems
        train_texts = [t for p in problems for t in (p["mcq_question"], p["question"])]
        t4 = time.perf_counter()
        hits = find_overlaps(train_texts, evals)
        decontam_seconds = time.perf_counter() - t4
        t4 = time.perf_counter()
        find_overlaps(train_texts, evals, boilerplate=split_cfg.boilerplate)
        boilerplate_seconds = time.perf_counter() - t4
        sample = random.Random(args.seed + 3).sample(range(len(train_texts)), min(NAIVE_SAMPLE, len(train_texts)))
        t5 = time.perf_counter()
        naive = naive_find_overlaps([train_texts[i] for i in sample], evals)
        naive_seconds = time.perf_counter() - t5
        naive_agrees = all((n >= 0) == (hits[i] >= 0) for n, i in zip(naive, sample))
        planted_ids = {rows[n]["id"] for n in planted}
        in_training = [a for a in splits.assignments if a["mcq_id"] in planted_ids and a["split"] != "eval"]
        missed = [a["mcq_id"] for a in in_training if a["status"] != "contaminated"]
        question = {r["id"]: r["question"] for r in rows}
        short = sum(len(normalise(question[m])) < split_cfg.window for m in missed)

    print(json.dumps({
        "records": len(rows),
        "seconds": round(t3 - t0, 2),
        "curate_seconds": round(t1 - t0, 2),
        "split_seconds": round(t2 - t1, 2),
        "write_seconds": round(t3 - t2, 2),
        "decontam_seconds": round(decontam_seconds, 2),
        "decontam_boilerplate_seconds": round(boilerplate_seconds, 2),
        "naive_decontam_seconds_estimated": round(naive_seconds / len(sample) * len(train_texts), 1),
        "naive_sample_texts": len(sample),
        "naive_agrees_on_sample": naive_agrees,
        "speedup_vs_naive": round(naive_seconds / len(sample) * len(train_texts) / decontam_seconds),
        "eval_questions": len(evals),
        "problems": len(problems),
        "dropped": curated.report["by_reason"],
        "planted_copies_in_training": len(in_training),
        "planted_copies_caught": sum(a["status"] == "contaminated" for a in in_training),
        "planted_missed_shorter_than_window": short,
        "planted_missed_as_boilerplate": len(missed) - short,
        "contaminated": splits.report["contaminated"],
        "kept": splits.report["kept"],
        "over_cap": splits.report["over_cap"],
        "target_seconds": TARGET_SECONDS,
        "meets_target": t3 - t0 < TARGET_SECONDS,
    }))


if __name__ == "__main__":
    main()
