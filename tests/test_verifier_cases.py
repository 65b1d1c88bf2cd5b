"""The labelled verifier cases (medreason.verify.cases): deterministic, well-formed, split by record into a tune and a
report pool whose templates share no phrasing, plus a holdout pool over the report records whose templates share no
phrasing with either. Built from ../shared/data/medqa_demo_processed.json, read in place."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest
from conftest import shared_file

from medreason.verify import cases as C

EXPECTED_LABELS = {
    "negated": {False},
    "incidental_mention": {True},
    "enumeration": {False},
    "hedge": {False},
    "long_explanation": {True, False},
    "adversarial": {False},
    "committed_paraphrase": {True},
    "committed_plain": {True},
}
FIELDS = {"kind", "question", "response", "reference", "label", "record", "pool"}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    with open(shared_file("medqa_demo_processed.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def cases(records) -> list[dict]:
    return C.build_cases(records)


def test_build_is_deterministic(records, cases):
    assert C.build_cases(records) == cases


def test_every_case_has_the_fields(records, cases):
    for case in cases:
        assert set(case) == FIELDS
        assert isinstance(case["response"], str) and isinstance(case["label"], bool)
        record = records[case["record"]]
        assert case["reference"] == record["Ground-True Answer"]
        assert case["question"] == record["Open-ended Verifiable Question"]


def test_pools_split_by_record_index(records, cases):
    assert len(records) == 137
    for case in cases:
        assert case["pool"] in (("tune",) if case["record"] <= 67 else ("report", "holdout")), case
    assert {c["pool"] for c in cases if c["record"] == 67} == {"tune"}
    assert {c["pool"] for c in cases if c["record"] == 68} == {"report", "holdout"}
    # The holdout cases come after every tune and report case, so those two pools' output is unchanged by them.
    pools = [c["pool"] for c in cases]
    first = pools.index("holdout")
    assert "holdout" not in pools[:first] and set(pools[first:]) == {"holdout"}


def test_each_kind_has_its_labels_in_every_pool(cases):
    counts: dict[tuple, int] = defaultdict(int)
    for c in cases:
        counts[c["kind"], c["pool"], c["label"]] += 1
    assert {k for k, _, _ in counts} == set(EXPECTED_LABELS)
    for kind, labels in EXPECTED_LABELS.items():
        for pool in ("tune", "report", "holdout"):
            assert {lab for k, p, lab in counts if k == kind and p == pool} == labels, (kind, pool)
            for label in labels:
                # The small control kinds see every other record; the rest aim at 40-80 per pool.
                least = 20 if kind.startswith("committed") else 40
                assert counts[kind, pool, label] >= least, (kind, pool, label, counts[kind, pool, label])


def _norm(text: str) -> str:
    return " " + " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split()) + " "


def test_no_response_carries_another_records_reference(records, cases):
    # Light check: a distinctive reference of another record (two words or more) must not turn up in a response,
    # unless this record's own texts hold it too (duplicate records, a reference that is another's option).
    refs = {_norm(r["Ground-True Answer"]) for r in records}
    refs = {r for r in refs if len(r.split()) >= 2}
    for c in cases:
        rec = records[c["record"]]
        own = _norm(" ".join([rec["Ground-True Answer"], rec["Open-ended Verifiable Question"],
                              *map(str, rec["options"].values())]))
        response = _norm(c["response"])
        stray = [r for r in refs if r in response and r not in own]
        assert not stray, (c["record"], c["kind"], stray)


def _texts(templates: dict) -> list[str]:
    """Each template as text, placeholders kept (an enumeration rendered around three placeholder items)."""
    out = []
    for pool_templates in templates.values():
        for t in pool_templates:
            out.append(C._render_list(t, ["{X1}", "{X2}", "{X3}"]) if isinstance(t, C._List) else t)
    return out


def _trigrams(text: str) -> set[tuple]:
    """Runs of three tokens (words, punctuation, placeholders) holding at least two words: phrasing, not the bare
    ". {R} is" every sentence about an answer has."""
    # The "## Thinking" / "## Final Response" headers are the format verifiers read, shared on purpose.
    text = re.sub(r"^## (Thinking|Final Response)$", " ", text, flags=re.MULTILINE)
    tokens = re.findall(r"\{\w+\}|\w+|[^\w\s]", text.casefold())
    grams = (tuple(tokens[k:k + 3]) for k in range(len(tokens) - 2))
    return {g for g in grams if sum(t.isalpha() for t in g) >= 2}


def test_tune_and_report_templates_share_no_template_and_no_phrasing():
    assert set(C._TUNE_TEMPLATES) == set(C._REPORT_TEMPLATES)
    tune, report = _texts(C._TUNE_TEMPLATES), _texts(C._REPORT_TEMPLATES)
    assert not set(tune) & set(report)
    # No three-token run (words, punctuation, placeholders) in common: a phrase fitted on the tune pool never
    # reappears in the report pool. Both values are printed only on failure, as trigrams, not as templates.
    shared = set().union(*map(_trigrams, tune)) & set().union(*map(_trigrams, report))
    assert not shared, sorted(shared)
    # Nor a conjunction between two answers ("{R} or {W}") or an enumeration's separators.
    joins = {g for t in tune for g in _trigrams_all(t) if _is_join(g)}
    assert not joins & {g for t in report for g in _trigrams_all(t) if _is_join(g)}
    lists = {(t.item, t.sep, t.last) for pool in C._TUNE_TEMPLATES.values() for t in pool if isinstance(t, C._List)}
    assert lists and not lists & {(t.item, t.sep, t.last) for pool in C._REPORT_TEMPLATES.values()
                                  for t in pool if isinstance(t, C._List)}


def _trigrams_all(text: str) -> set[tuple]:
    tokens = re.findall(r"\{\w+\}|\w+|[^\w\s]", text.casefold())
    return {tuple(tokens[k:k + 3]) for k in range(len(tokens) - 2)}


def _is_join(gram: tuple) -> bool:
    """Placeholder, connective, placeholder: "{R} or {W}", "{W}; {R}" (a full stop ends a sentence: not a join)."""
    return gram[0].startswith("{") and gram[2].startswith("{") and gram[1] != "." and not gram[1].startswith("{")


def test_holdout_pool_covers_the_report_records_only(records, cases):
    holdout = [c for c in cases if c["pool"] == "holdout"]
    assert {c["record"] for c in holdout} <= set(range(68, 137))
    # Every report record that is long enough for some short template appears in the holdout pool too.
    assert {c["record"] for c in holdout} == {c["record"] for c in cases if c["pool"] == "report"}
    for c in holdout:
        assert c["label"] in EXPECTED_LABELS[c["kind"]], c["kind"]
    assert [c for c in C.build_cases(records) if c["pool"] == "holdout"] == holdout
    # Built from the tune records alone, no holdout case exists.
    assert not [c for c in C.build_cases(records[:68]) if c["pool"] == "holdout"]


def test_holdout_templates_share_no_template_and_no_phrasing_with_tune_or_report():
    # On failure only the clashes are printed (as counts, trigrams or separators), never the holdout templates: the
    # pool is for scoring, not for reading.
    assert set(C._HOLDOUT_TEMPLATES) == set(C._TUNE_TEMPLATES)
    holdout = _texts(C._HOLDOUT_TEMPLATES)
    holdout_grams = set().union(*map(_trigrams, holdout))
    holdout_joins = {g for t in holdout for g in _trigrams_all(t) if _is_join(g)}
    holdout_lists = {(t.item, t.sep, t.last) for pool in C._HOLDOUT_TEMPLATES.values() for t in pool
                     if isinstance(t, C._List)}
    assert holdout_lists
    for name, other in (("tune", C._TUNE_TEMPLATES), ("report", C._REPORT_TEMPLATES)):
        seen = _texts(other)
        same = len(set(holdout) & set(seen))
        assert same == 0, (name, same)
        shared = sorted(holdout_grams & set().union(*map(_trigrams, seen)))
        assert shared == [], (name, shared)
        joins = sorted(holdout_joins & {g for t in seen for g in _trigrams_all(t) if _is_join(g)})
        assert joins == [], (name, joins)
        lists = sorted(holdout_lists & {(t.item, t.sep, t.last) for pool in other.values() for t in pool
                                        if isinstance(t, C._List)})
        assert lists == [], (name, lists)
