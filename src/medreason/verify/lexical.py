"""Lexical verifier: the reference, normalised, found in the final answer.

Two ways to be correct, both on normalised tokens (normalize.py) compared tolerantly (match.same_token):
1. containment: the whole reference, or the head of "X (qualifier)", or its "(ACRONYM)", occurs as consecutive
   tokens, at token boundaries ("MI" is found in "an MI", never inside "MIdline");
2. overlap: for a short answer, the token-overlap F1 between answer and reference; for a long one, the share of
   the reference's words found close together (within one clause, in a window a little longer than the
   reference). Either must keep every direction/polarity word with what it qualifies ("decreased estradiol").
Mentions the guard found to be negated, hedged or in passing never reach this verifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medreason.verify.base import Verifier, VerifyResult
from medreason.verify.guard import mention_role, negative_stem
from medreason.verify.match import MENTION_RECALL, bag_match, critical_order, critical_pairs, locate, pairs_present
from medreason.verify.normalize import content, tokens


@dataclass(frozen=True)
class LexicalScore:
    score: float
    how: str  # "contains", "overlap", "none"


def lexical_score(answer: str, reference: str, question: str | None = None) -> LexicalScore:
    """How well the reference is found in ``answer``: 1.0 when written out, else the best token overlap.

    Mentions that the guard would call dismissed, hedged or asides do not count.
    """
    located = locate(answer, reference)
    lenient = negative_stem(question)
    committed = [m for m in located.mentions if mention_role(located, m, lenient) == "committed"]
    if any(m.score == 1.0 for m in committed):
        return LexicalScore(1.0, "contains")

    ref_tokens = tokens(reference)
    ref = content(ref_tokens) or list(ref_tokens)
    answer_content = content(tokens(answer))
    # A short answer is read whole, so words it adds beyond the reference lower the score (F1).
    if ref and answer_content and len(answer_content) <= 2 * len(ref) + 2:
        if not pairs_present(critical_pairs(list(ref_tokens)), critical_order(list(ref_tokens)), answer_content):
            return LexicalScore(0.0, "none")
        hits = bag_match(ref, answer_content)
        if hits:
            precision, recall = hits / len(answer_content), hits / len(ref)
            return LexicalScore(2 * precision * recall / (precision + recall), "overlap")
        return LexicalScore(0.0, "none")
    # A long one: the best window that holds most of the reference's words (match.locate).
    best = max((m.score for m in committed), default=0.0)
    if best < MENTION_RECALL:
        # A reference of several items ("decreased estradiol and increased LH") may be answered item by item,
        # in another order or as a list: each item then needs a committed mention of its own.
        parts = reference_parts(reference)
        if len(parts) > 1:
            found = [_part_score(answer, part, lenient) for part in parts]
            if min(found) >= MENTION_RECALL:
                return LexicalScore(min(found), "parts")
    return LexicalScore(best, "overlap" if best else "none")


def _part_score(answer: str, part: str, lenient: bool) -> float:
    located = locate(answer, part)
    return max((m.score for m in located.mentions if mention_role(located, m, lenient) == "committed"), default=0.0)


_PART_SPLIT = re.compile(r"\s*;\s*|,?\s+and\s+|,\s*")


def reference_parts(reference: str) -> list[str]:
    """The items of a reference that lists several ("A; B", "A and B", "A, B, and C"), else [reference]."""
    parts = [p for p in _PART_SPLIT.split(reference.strip().rstrip(".")) if p and content(tokens(p))]
    return parts if len(parts) > 1 else [reference]


class LexicalVerifier(Verifier):
    """Correct iff the reference is contained, or overlaps at least ``threshold``."""

    name = "lexical"

    def __init__(self, threshold: float = 0.8):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold

    def _judge(self, answers: list[str], references: list[str], questions: list[str | None]) -> list[VerifyResult]:
        results = []
        for answer, reference, question in zip(answers, references, questions, strict=True):
            s = lexical_score(answer, reference, question)
            correct = s.score >= self.threshold
            if s.how == "contains":
                reason = "contains the reference"
            elif s.how == "parts":
                reason = "contains each item of the reference"
            elif s.how == "overlap":
                reason = f"token overlap {s.score:.2f} {'>=' if correct else '<'} {self.threshold}"
            else:
                reason = "reference not found"
            results.append(VerifyResult(correct, s.score, f"lexical: {reason}"))
        return results
