"""Split problems into search / rl / eval by a seeded content hash, after decontamination.

Each problem's place is a number u in [0, 1) from sha256(seed, mcq_id): eval takes u < f_eval, search the next
f_search, rl the rest. It depends on nothing but the problem's source MCQ, so adding unrelated problems never moves
one, and neither does rewriting it differently (a new prompt or teacher).
A cap (``max_sizes``) keeps the problems of lowest u, so it is stable too, up to the items crossing the cap.

Decontamination (the Med-PaLM 2 rule the paper cites): a search or rl problem whose MCQ question or open question
shares ``window`` consecutive characters (normalised) with a question of a benchmark (params.yaml ``benchmarks``,
read by data.benchmarks), or with an MCQ of our own eval split, is dropped, with the benchmark and the shared text
as its reason; so is a question identical to a reference question, however short. Reference questions repeat
(within a file and across files); each distinct (normalised) text counts once, and a drop names the first
benchmark, in params order, holding the matched text. Windows found in ``boilerplate`` or more distinct reference
questions are exam stems and do not count; training problems never count toward it (see decontam).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any

from medreason.config import SPLITS, SplitConfig
from medreason.curate.decontam import distinct, find_overlaps, shared_span
from medreason.data.schema import normalise

OWN_EVAL = "eval_split"
ASSIGNMENT_COLUMNS = ["id", "mcq_id", "split", "u", "status", "reason", "detail"]


@dataclass
class SplitResult:
    assignments: list[dict[str, Any]]  # one per problem: split, status (kept / contaminated / over_cap), reason
    splits: dict[str, list[dict[str, Any]]]  # the kept problems of each split
    report: dict[str, Any]


def place(seed: int, mcq_id: str) -> float:
    return int(hashlib.sha256(f"{seed}:{mcq_id}".encode()).hexdigest()[:16], 16) / 2 ** 64


def split_problems(problems: list[dict[str, Any]], cfg: SplitConfig, benchmarks: dict[str, list[str]]) -> SplitResult:
    """``benchmarks``: name -> question texts of each benchmark present (data.benchmarks.benchmark_questions)."""
    bounds, edge = {}, 0.0
    for name in ("eval", "search", "rl"):
        bounds[name] = (edge, edge + cfg.fractions[name])
        edge += cfg.fractions[name]
    rows = []
    for p in problems:
        u = place(cfg.seed, p["mcq_id"])
        split = next((s for s, (lo, hi) in bounds.items() if lo <= u < hi), "rl")  # u near 1.0: float rounding
        rows.append({"id": p["id"], "mcq_id": p["mcq_id"], "split": split, "u": u, "status": "kept",
                     "reason": None, "detail": None})

    # Reference texts: each benchmark's questions, then our own eval split's MCQs.
    ref_texts, ref_names = [], []
    for name, questions in benchmarks.items():
        ref_texts += questions
        ref_names += [name] * len(questions)
    for p, a in zip(problems, rows):
        if a["split"] == "eval":
            ref_texts.append(p["mcq_question"])
            ref_names.append(OWN_EVAL)
    train = [n for n, a in enumerate(rows) if a["split"] != "eval"]
    texts = [t for n in train for t in (problems[n]["mcq_question"], problems[n]["question"])]
    hits = find_overlaps(texts, ref_texts, window=cfg.window, progress=True, boilerplate=cfg.boilerplate)
    # A question identical to a reference question is contaminated at any length (the window rule cannot see a
    # question shorter than the window). First occurrences, as find_overlaps reports them.
    first = distinct(ref_texts)
    identical = {normalise(ref_texts[i]): i for i in first}
    for k, n in enumerate(train):
        hit = next((int(h) for h in hits[2 * k:2 * k + 2] if h >= 0), -1)
        same = next((identical[q] for q in map(normalise, texts[2 * k:2 * k + 2]) if q in identical), -1)
        if same >= 0:
            rows[n].update(status="contaminated", reason=f"contaminated:{ref_names[same]}", detail="identical question")
        elif hit >= 0:
            text = texts[2 * k] if hits[2 * k] == hit else texts[2 * k + 1]
            rows[n].update(status="contaminated", reason=f"contaminated:{ref_names[hit]}",
                           detail=shared_span(text, ref_texts[hit], cfg.window))

    for split, cap in cfg.max_sizes.items():
        kept = sorted((a["u"], n) for n, a in enumerate(rows) if a["split"] == split and a["status"] == "kept")
        for _, n in kept[cap:]:
            rows[n].update(status="over_cap", reason=f"over_cap:{split}")

    splits = {s: [p for p, a in zip(problems, rows) if a["split"] == s and a["status"] == "kept"] for s in SPLITS}
    assigned = Counter(a["split"] for a in rows)
    ref_counts = {**{k: len(v) for k, v in benchmarks.items()}, OWN_EVAL: ref_names.count(OWN_EVAL)}
    # A copy: a reference text equal (normalised) to an earlier one, counted under the copy's own benchmark.
    copies = Counter(ref_names) - Counter(ref_names[i] for i in first)
    report = {
        "in": len(problems),
        "assigned": {s: assigned[s] for s in SPLITS},
        "contaminated": dict(sorted(Counter(a["reason"].split(":", 1)[1] for a in rows
                                            if a["status"] == "contaminated").items())),
        "over_cap": {s: sum(a["status"] == "over_cap" and a["split"] == s for a in rows) for s in SPLITS},
        "kept": {s: len(splits[s]) for s in SPLITS},
        "reference_questions": ref_counts,
        "reference_duplicates": {k: copies[k] for k in ref_counts},
        "reference_distinct": len(first),  # what decontamination compares against
    }
    assert sum(ref_counts.values()) - sum(copies.values()) == len(first)
    assert sum(report["kept"].values()) + sum(report["contaminated"].values()) + sum(report["over_cap"].values()) \
        == len(problems)
    return SplitResult(rows, splits, report)


def funnel_rows(curate_report: dict[str, Any], split_report: dict[str, Any]) -> list[dict[str, Any]]:
    """The whole funnel, MCQs to splits, as rows for reports/plots/funnel.csv (numbered so they plot in order)."""
    steps = [("mcq", curate_report["in"])]
    steps += [(f"after {s['step']}", s["out"]) for s in curate_report["funnel"]]
    steps.append(("after decontamination", split_report["in"] - sum(split_report["contaminated"].values())))
    steps.append(("after caps", sum(split_report["kept"].values())))
    steps += [(f"{s} split", split_report["kept"][s]) for s in ("search", "rl", "eval")]
    return [{"step": f"{i:02d} {name}", "count": count} for i, (name, count) in enumerate(steps, 1)]


def funnel_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The funnel rows as a mapping for the report (and so MLflow metrics): "01 after dedup" -> after_dedup."""
    return {row["step"][3:].replace(" ", "_"): row["count"] for row in rows}
