"""The verifier audit: metrics on hand-made sets with known confusion counts, the CLI, and the real audit set
(../shared/data/verifier_audit.json, read in place)."""

from __future__ import annotations

import json

import pytest

from medreason.verify import final_answer, load_verifier
from medreason.verify.audit import (AuditPair, SubstringBaseline, audit, generated_pairs, main, metrics, read_audit_set,
                                    read_records)
from medreason.verify.guard import check

from conftest import shared_file


def test_metrics_from_known_counts():
    labels = [True] * 4 + [False] * 6
    predictions = [True, True, True, False] + [True, False, False, False, False, False]
    m = metrics(labels, predictions)
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (3, 1, 1, 5)
    assert m["accuracy"] == 0.8
    assert m["precision"] == 0.75 and m["recall"] == 0.75
    assert m["specificity"] == pytest.approx(5 / 6, abs=1e-4)
    assert m["balanced_accuracy"] == pytest.approx((0.75 + 5 / 6) / 2, abs=1e-4)


def test_metrics_of_a_one_class_kind_leave_the_undefined_rates_out():
    m = metrics([False, False, False], [False, True, False])
    assert m["recall"] is None and m["precision"] == 0.0
    assert m["balanced_accuracy"] == m["specificity"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics([], [])["accuracy"] is None


HAND_MADE = [
    AuditPair("option", None, "Acute myocardial infarction", "Myocardial infarction", True),  # tp
    AuditPair("option", None, "Pulmonary embolism", "Myocardial infarction", False),  # tn
    AuditPair("option", None, "B", "Piriformis muscle", True),  # fn: a letter cannot be verified
    AuditPair("response", None, "## Final Response\n\nThe answer is a DVT.", "Deep vein thrombosis", True),  # tp
    AuditPair("response", None, "It is not a DVT.", "Deep vein thrombosis", False),  # tn (guard)
    AuditPair("response", None, "Deep vein thrombosis or cellulitis.", "Deep vein thrombosis", False),  # tn
]


def test_audit_counts_overall_and_per_kind():
    report = audit(load_verifier("lexical"), HAND_MADE)
    o = report["overall"]
    assert (o["tp"], o["fp"], o["tn"], o["fn"]) == (2, 0, 3, 1)
    assert o["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2, abs=1e-4)
    assert report["by_kind"]["option"]["fn"] == 1 and report["by_kind"]["response"]["tp"] == 1
    assert report["by_kind"]["response"]["tn"] == 2
    assert [e["reference"] for e in report["errors"]] == ["Piriformis muscle"]


def test_read_audit_set_and_the_cli(tmp_path):
    path = tmp_path / "set.json"
    path.write_text(json.dumps([{"kind": p.kind, "question": p.question, "response": p.response,
                                 "reference": p.reference, "label": p.label} for p in HAND_MADE]))
    assert read_audit_set(path) == HAND_MADE
    out = tmp_path / "reports" / "audit.json"
    assert main(["--verifier", "lexical", "substring", "--set", str(path), "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["pairs"] == 6 and set(report["verifiers"]) == {"lexical", "substring"}
    assert report["verifiers"]["lexical"]["overall"]["tp"] == 2

    path.write_text(json.dumps([{"kind": "x", "response": "a", "label": True}]))
    with pytest.raises(ValueError, match="record 0 has no 'reference'"):
        read_audit_set(path)


@pytest.fixture(scope="module")
def audit_set():
    return read_audit_set(shared_file("verifier_audit.json"))


def test_the_guard_rarely_rejects_answers_that_commit_to_the_reference(audit_set):
    positives = [p for p in audit_set if p.label]
    rejected = [p for p in positives if check(final_answer(p.response), p.reference, p.question)]
    # What it rejects on this set: bare option letters ("be") or "All", and one "X or Y" naming the answer twice.
    assert len(rejected) <= 0.03 * len(positives), [(p.response[:40], p.reference) for p in rejected]
    assert sum(p.kind == "response_agrees" for p in rejected) <= 1


@pytest.mark.slow
def test_default_verifier_on_the_real_audit_set(audit_set):
    baseline = audit(SubstringBaseline(), audit_set)["overall"]
    lexical = audit(load_verifier("lexical"), audit_set)["overall"]
    report = audit(load_verifier("default"), audit_set)
    o = report["overall"]
    assert o["n"] == len(audit_set) == 806
    assert o["balanced_accuracy"] >= 0.93, report["errors"]
    assert lexical["balanced_accuracy"] > baseline["balanced_accuracy"] + 0.04
    assert o["precision"] >= 0.98 and o["fp"] <= baseline["fp"]
    # The other record's Response never passes for this record's answer.
    assert report["by_kind"]["response_other_case"]["fp"] == 0


@pytest.mark.slow
def test_the_audit_reports_each_pool_and_the_targets_of_a_reward():
    records = read_records(shared_file("medqa_demo_processed.json"))
    pairs = read_audit_set(shared_file("verifier_audit.json"), records) + generated_pairs(records)
    assert all(p.record is not None for p in pairs)  # every labelled pair is tied to its record
    report = audit(load_verifier("default"), pairs, tune_records=68)
    pools = report["pools"]
    assert set(pools) == {"tune", "report", "holdout"} and report["unassigned"] == 0
    # The labelled set is split by record: 402 pairs from records 0-67, the rest from 68-136.
    assert pools["tune"]["set"]["n"] == 402 and pools["report"]["set"]["n"] == 806 - 402
    # The rules were fitted on the tune and report pools' phrasing (the holdout's is reported, not asserted:
    # README "Verifier").
    for name, pool in pools.items():
        if name == "holdout":
            continue
        assert pool["adversarial_accepted"] == 0, name
        assert pool["negated_accepted"] == 0, name
        assert pool["incidental_mention_recall"] >= 0.9, name
        assert pool["cases_by_kind"]["enumeration"]["fp"] == 0, name
