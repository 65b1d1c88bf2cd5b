"""Lexical verifier: the reference, as tokens, found in the final answer.

Everything is compared on folded tokens (tokens.py: case, Unicode, punctuation, articles, plurals,
numbers and units, abbreviations, synonyms) with tolerant token equality (match.same_token: inflections and
typos, never numbers or direction words). Correct when, in a mention the guard would call committed:
1. containment: the reference, or the head of "X (qualifier)" with the qualifier elsewhere, or its "(ACRONYM)",
   occurs as consecutive tokens, at token boundaries ("MI" is found in "an MI", never inside "midline"); or
2. overlap: a short answer (about the reference's length) is read whole: token-overlap F1 >= threshold;
   a long one is searched for a window of one clause holding >= 80% of the reference's words (match.locate),
   or, for a reference listing several items, one such window per item.
Either way every direction/polarity word or number keeps what it qualifies ("decreased estradiol").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medreason.verify.base import Verifier, VerifyResult
from medreason.curate.rules import asks_exception_or_negative
from medreason.verify.guard import committed_mentions
from medreason.verify.match import MENTION_RECALL, bag_match, critical_order, critical_pairs, locate, pairs_present
from medreason.verify.tokens import content, tokens


@dataclass(frozen=True)
class LexicalScore:
    score: float  # 1.0 for containment, else the overlap
    how: str  # "contains", "overlap" (F1 of a short answer), "window", "parts", "none"
    short: bool  # the answer was read whole (about as long as the reference)


def is_short(answer: str, reference: str) -> bool:
    """An answer about the reference's length (an option, a phrase) rather than an explanation."""
    ref = content(tokens(reference)) or list(tokens(reference))
    return len(content(tokens(answer))) <= 2 * len(ref) + 2


def committed_score(answer: str, reference: str, question: str | None = None,
                    min_recall: float = MENTION_RECALL) -> tuple[float, bool]:
    """The best mention of the reference that the answer commits to: (share of its words, written out?)."""
    located = locate(answer, reference, min_recall=min_recall)
    lenient = asks_exception_or_negative(question or "")
    committed = committed_mentions(located, lenient)
    if not committed:
        return 0.0, False
    best = max(committed, key=lambda m: (m.exact, m.score))
    return best.score, best.exact


def lexical_score(answer: str, reference: str, question: str | None = None,
                  min_recall: float = MENTION_RECALL) -> LexicalScore:
    """How well the reference is found in ``answer``; windows holding less than ``min_recall`` are not looked at."""
    short = is_short(answer, reference)
    score, exact = committed_score(answer, reference, question, min_recall)
    if exact:
        return LexicalScore(1.0, "contains", short)
    if short:
        return LexicalScore(_short_f1(answer, reference), "overlap", short)
    if score:
        return LexicalScore(score, "window", short)
    # A reference of several items ("decreased estradiol and increased LH") may be answered item by item,
    # in another order or as a list: each item then needs a committed mention of its own.
    parts = reference_parts(reference)
    if len(parts) > 1:
        found = min(committed_score(answer, part, question, min_recall)[0] for part in parts)
        if found:
            return LexicalScore(found, "parts", short)
    return LexicalScore(0.0, "none", short)


def _short_f1(answer: str, reference: str) -> float:
    """Token-overlap F1 of the whole answer against the reference; 0 if a direction word or number differs."""
    ref_tokens = list(tokens(reference))
    ref = content(ref_tokens) or ref_tokens
    words = content(tokens(answer))
    if not ref or not words or not pairs_present(critical_pairs(ref_tokens), critical_order(ref_tokens), words):
        return 0.0
    hits = bag_match(ref, words)
    if not hits:
        return 0.0
    precision, recall = hits / len(words), hits / len(ref)
    return 2 * precision * recall / (precision + recall)


_PART_SPLIT = re.compile(r"\s*;\s*|,?\s+and\s+|,\s*")


def reference_parts(reference: str) -> list[str]:
    """The items of a reference that lists several ("A; B", "A and B", "A, B, and C"), else [reference]."""
    parts = [p for p in _PART_SPLIT.split(reference.strip().rstrip(".")) if p and content(tokens(p))]
    return parts if len(parts) > 1 else [reference]


_REASONS = {
    "contains": "contains the reference",
    "overlap": "token-overlap F1",
    "window": "share of the reference's words in one clause",
    "parts": "share of each item's words found",
    "none": "reference not found",
}


class LexicalVerifier(Verifier):
    """Correct iff the reference is contained, or overlaps at least ``threshold`` (see the module docstring)."""

    name = "lexical"

    def __init__(self, threshold: float = 0.8):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold

    def judge(self, answers: list[str], references: list[str], questions: list[str | None]) -> list[VerifyResult]:
        results = []
        for answer, reference, question in zip(answers, references, questions, strict=True):
            s = lexical_score(answer, reference, question, min_recall=self.threshold)
            correct = s.score >= self.threshold
            reason = _REASONS[s.how]
            if s.how not in ("contains", "none"):
                reason += f" {s.score:.2f} {'>=' if correct else '<'} {self.threshold}"
            results.append(VerifyResult(correct, s.score, f"lexical: {reason}"))
        return results
