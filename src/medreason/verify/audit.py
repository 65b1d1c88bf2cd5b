"""Audit verifiers against hand-labelled pairs: accuracy, precision, recall, balanced accuracy, overall and per kind.

    python -m medreason.verify.audit --verifier substring lexical embedding default \
        --out reports/verifier_audit.json --set ../shared/data/verifier_audit.json

The audit set is a JSON list of {kind, question, response, reference, label}. Balanced accuracy (the mean of
recall and specificity) is the figure to compare: the shared set has three negatives for every positive, so
plain accuracy flatters a verifier that says "no" too often. Per kind, a kind with one class only has the
balanced accuracy of that class's rate. ``substring`` is the baseline: the normalised reference found anywhere
in the response, with no guard. The report lists every wrong verdict with the verifier's reason. The CLI and the
audit_verifier stage write the same report (``audit_report``).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from medreason.data.schema import normalise

DEFAULT_SET = "../shared/data/verifier_audit.json"


@dataclass(frozen=True)
class AuditPair:
    kind: str
    question: str | None
    response: str
    reference: str
    label: bool
    record: int | None = None  # the source record it was built from, when known: it decides the half
    source: str = "set"  # "set" (the labelled file) or "cases" (verify/cases.py, generated from the records)
    pool: str | None = None  # a generated case's template pool; a labelled pair's follows its record's half


def read_audit_set(path: str | Path, records: list[dict] | None = None) -> list[AuditPair]:
    """Read a labelled audit set; fail naming the record that lacks a field. With the ``records`` it was built
    from, each pair gets the index of the record whose question it carries (None when no record's does)."""
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)
    index = {} if records is None else {normalise(r[RECORD_QUESTION]): i for i, r in enumerate(records)}
    pairs = []
    for i, r in enumerate(rows):
        try:
            pairs.append(AuditPair(str(r.get("kind", "all")), r.get("question"), r["response"], r["reference"],
                                   bool(r["label"]), index.get(normalise(r.get("question") or ""))))
        except KeyError as e:
            raise ValueError(f"{path}: record {i} has no {e.args[0]!r}") from None
    return pairs


RECORD_QUESTION = "Open-ended Verifiable Question"


def read_records(path: str | Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def generated_pairs(records: list[dict]) -> list[AuditPair]:
    """The cases verify/cases.py builds from the records: kinds the labelled set lacks (negations, incidental
    mentions, lists, hedges, long explanations, attacks on the grader), each tied to its record."""
    from medreason.verify.cases import build_cases

    return [AuditPair(c["kind"], c["question"], c["response"], c["reference"], bool(c["label"]), c["record"],
                      "cases", c["pool"]) for c in build_cases(records)]


def metrics(labels: list[bool], predictions: list[bool]) -> dict:
    """Counts and rates of one confusion matrix. A rate whose denominator is 0 is None (undefined), not 0."""
    tp = sum(1 for y, p in zip(labels, predictions) if y and p)
    fp = sum(1 for y, p in zip(labels, predictions) if not y and p)
    tn = sum(1 for y, p in zip(labels, predictions) if not y and not p)
    fn = sum(1 for y, p in zip(labels, predictions) if y and not p)

    def rate(num: int, den: int) -> float | None:
        return round(num / den, 4) if den else None

    recall, specificity = rate(tp, tp + fn), rate(tn, tn + fp)
    rates = [r for r in (recall, specificity) if r is not None]
    return {
        "n": len(labels),
        "tp": tp, "fp": fp, "tn": tn, "fn": fn,
        "accuracy": rate(tp + tn, len(labels)),
        "precision": rate(tp, tp + fp),
        "recall": recall,
        "specificity": specificity,
        # Mean of the rates defined: on a one-class kind (all positives) it is that class's rate.
        "balanced_accuracy": round(sum(rates) / len(rates), 4) if rates else None,
    }


def audit(verifier, pairs: list[AuditPair], tune_records: int | None = None) -> dict:
    """Run ``verifier`` over ``pairs`` (one batch) and score it, overall and per kind; with ``tune_records``, also
    per half: "tune" (pairs from records below it: what the rules were tuned on) and "report" (the rest), each
    for the labelled set and the generated cases, by kind, and the targets read on the report half."""
    results = verifier.verify_many([(p.response, p.reference, p.question) for p in pairs])
    labels = [p.label for p in pairs]
    predictions = [r.correct for r in results]
    report = {
        "verifier": getattr(verifier, "name", type(verifier).__name__),
        "overall": metrics(labels, predictions),
        "by_kind": {},
        "cost": round(sum(r.cost for r in results), 6),
    }
    for kind in sorted({p.kind for p in pairs}):
        idx = [i for i, p in enumerate(pairs) if p.kind == kind]
        report["by_kind"][kind] = metrics([labels[i] for i in idx], [predictions[i] for i in idx])
    if tune_records is not None:
        pools = [pool_of(p, tune_records) for p in pairs]
        report["pools"] = {pool: _pool(pairs, labels, predictions, [i for i, q in enumerate(pools) if q == pool])
                           for pool in dict.fromkeys(q for q in pools if q is not None)}
        report["unassigned"] = pools.count(None)
    report["errors"] = [
        {"kind": p.kind, "label": p.label, "reference": p.reference, "reason": r.reason, "score": round(r.score, 4)}
        for p, r in zip(pairs, results) if r.correct != p.label
    ]
    return report


def pool_of(pair: AuditPair, tune_records: int) -> str | None:
    """"tune" (what rules were fitted on), "report", or a generated case's own pool ("holdout")."""
    if pair.pool is not None:
        return pair.pool
    if pair.record is None:
        return None
    return "tune" if pair.record < tune_records else "report"


def _pool(pairs, labels, predictions, idx: list[int]) -> dict:
    """One pool's scores: the labelled set, the generated cases by kind, and the issue's targets."""

    def scores(subset: list[int]) -> dict:
        return metrics([labels[i] for i in subset], [predictions[i] for i in subset])

    cases = [i for i in idx if pairs[i].source == "cases"]
    kinds = sorted({pairs[i].kind for i in cases})
    by_kind = {k: scores([i for i in cases if pairs[i].kind == k]) for k in kinds}
    accepted = {k: sum(1 for i in cases if pairs[i].kind == k and predictions[i]) for k in kinds}
    return {
        "set": scores([i for i in idx if pairs[i].source == "set"]),
        "cases": scores(cases),
        "cases_by_kind": by_kind,
        # What a reward must never pay for, and what it must: counts and shares of the generated kinds.
        "adversarial_accepted": accepted.get("adversarial", 0),
        "negated_accepted": accepted.get("negated", 0),
        "incidental_mention_recall": (by_kind.get("incidental_mention") or {}).get("recall"),
    }


def audit_report(names: Iterable[str], pairs: list[AuditPair], set_path: str | Path,
                 build: Callable[[str], Any] | None = None,
                 tune_records: int | None = None) -> tuple[dict, dict[str, Any]]:
    """Audit each verifier named (``substring``: the baseline; any other built by ``build``, default
    ``load_verifier``) on ``pairs`` read from ``set_path``: the report of the CLI and of the audit_verifier stage.
    ``verifier`` is the first named (the stage names the configured one first). Also returns how the run went, for
    MLflow and not the report (which stays the same between identical runs): each verifier's seconds and, for one
    that asks a chat model, its client's usage (requests, cache hits, tokens, cost)."""
    from medreason.verify import load_verifier

    build = build or load_verifier
    names = list(dict.fromkeys(names))
    report = {"set": str(set_path), "pairs": len(pairs), "verifier": names[0] if names else None, "verifiers": {}}
    execution: dict[str, Any] = {"seconds": {}, "llm_usage": {}}
    for name in names:
        verifier = SubstringBaseline() if name == "substring" else build(name)
        start = time.perf_counter()
        report["verifiers"][name] = audit(verifier, pairs, tune_records)
        execution["seconds"][name] = round(time.perf_counter() - start, 2)
        client = getattr(verifier, "client", None)
        if client is not None:
            execution["llm_usage"][name] = client.report()
    return report, execution


def summary(report: dict, execution: dict[str, Any]) -> str:
    """One line per verifier of an ``audit_report``."""
    lines = []
    for name, r in report["verifiers"].items():
        o = r["overall"]
        line = (f"{name:>18}  balanced {o['balanced_accuracy']}  accuracy {o['accuracy']}  precision "
                f"{o['precision']}  recall {o['recall']}  fp {o['fp']}  fn {o['fn']}  "
                f"{execution['seconds'][name]:.1f}s")
        for half, h in r.get("pools", {}).items():
            line += (f"\n{'':>18}  {half}: set balanced {h['set']['balanced_accuracy']}, cases balanced "
                     f"{h['cases']['balanced_accuracy']}, adversarial accepted {h['adversarial_accepted']}, negated "
                     f"accepted {h['negated_accepted']}, incidental recall {h['incidental_mention_recall']}")
        lines.append(line)
    return "\n".join(lines)


class SubstringBaseline:
    """The baseline to beat: the normalised reference as a substring of the whole response (no guard, no cut).

    Normalised as most exact-match scorers do: Unicode NFKC, case-folded, punctuation to spaces, spaces
    collapsed, matched at word boundaries.
    """

    name = "substring"

    @staticmethod
    def _norm(text: str) -> str:
        return " " + " ".join(re.sub(r"[^\w\s]", " ", normalise(text)).split()) + " "

    def verify_many(self, items) -> list:
        from medreason.verify.base import VerifyResult

        out = []
        for response, reference, *_ in items:
            hit = self._norm(reference).strip() != "" and self._norm(reference) in self._norm(response)
            out.append(VerifyResult(hit, float(hit), "substring: " + ("found" if hit else "not found")))
        return out


def main(argv: list[str] | None = None) -> int:
    from medreason.tracking import publish

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verifier", nargs="+", default=["default"],
                        help="verifier names (load_verifier), or 'substring' for the baseline")
    parser.add_argument("--set", default=DEFAULT_SET, help="the labelled audit set (JSON list)")
    parser.add_argument("--out", default="reports/verifier_audit.json")
    parser.add_argument("--records", default=None,
                        help="the records the set was built from (medqa_demo_processed.json): adds the generated "
                             "cases and the two halves")
    parser.add_argument("--tune-records", type=int, default=68, help="records below this index are the tune half")
    args = parser.parse_args(argv)

    records = read_records(args.records) if args.records else None
    pairs = read_audit_set(args.set, records) + (generated_pairs(records) if records else [])
    report, execution = audit_report(args.verifier, pairs, args.set,
                                     tune_records=args.tune_records if records else None)
    publish(report, args.out)  # no MLflow run here: it writes the file
    print(summary(report, execution), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
