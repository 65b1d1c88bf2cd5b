"""Questions that have many right answers once their options are gone: rule_rewrite refuses them (not_reformulatable).

"Which of the following is associated with Down syndrome?" has one keyed option among four, but as an open question
any of a dozen associations is right, and a verifier would mark most of them wrong. The paper drops such items (a
unique answer is one of its three criteria; the authors' LLM filter calls them "Not Reformulatable"). Read on the
question sentence only. Measured on the authors' 137 demo records: 5 refused (3 "associated with", "can cause", "can
occur because of"); on the 120 shipped samples: none (their "are seen in:", "a feature of:" stems ask for the one
disease that has the finding).
"""

from __future__ import annotations

import re

# Nouns that name one member of a set: "a feature of X", "the complications of X" (but "the cause of X" is one).
_MEMBER_NOUN = (r"(?:feature|sign|symptom|finding|complication|cause|indication|contraindication|side[\s-]+effect|"
                r"adverse\s+effect|risk\s+factor|example|manifestation|characteristic|component|use|action|function|"
                r"effect)")
_MEMBER_NOUNS = rf"{_MEMBER_NOUN}s"
# Predicates whose subject is one member of a set named by their object: "Which of the following is seen in X?" asks
# for any finding of X. Asked the other way ("Wickham's striae are seen in:", "... characteristic of which
# subtype?"), the blank is the one disease that has the finding: that question has one answer and is kept.
_MEMBER_OF = re.compile(
    rf"\b(?:is|are|was|were|be|been)\s+(?:also\s+)?"
    rf"(?:(?:an?|one\s+of\s+the)\s+(?:\w+\s+)?(?:{_MEMBER_NOUN}|{_MEMBER_NOUNS})|(?:the\s+)?(?:\w+\s+)?{_MEMBER_NOUNS})"
    r"\s+(?:of|in|for|with)\b"
    r"|\b(?:seen|found|observed|present|encountered|noted|occurs?|occurring)\s+(?:in|with|among)\b"
    r"|\bcharacteristic(?:ally)?\s+of\b"
    r"|\bused\s+(?:(?:in|for)\b(?:\s+(?:the\s+)?(?:treatment|management|diagnosis|evaluation|prevention|"
    r"prophylaxis|control|detection)\s+of\b)?|to\s+(?:treat|manage|diagnose|prevent|detect)\b)", re.IGNORECASE)
# The same at the head of a fill-in stem, whose blank is the member: "Features of X are:", "Feature of X is:",
# "Causes of X include:" (not "The cause of death is:", "The feature of X is:", nor "Which finding of X suggests Y?",
# which presume one).
_MEMBERS_HEAD = re.compile(
    rf"^\W*(?:(?:the\s+)?(?:\w+\s+)?{_MEMBER_NOUNS}|(?!(?:the|which|what)\b)(?:\w+\s+)?(?!cause\b){_MEMBER_NOUN})"
    r"\s+(?:of|in|for|with)\b", re.IGNORECASE)
# Relations true of many pairs whichever side is asked ("associated with", "related to", "includes"), and what
# "can" or "may" cause or follow ("can cause", "may be caused by", "may present with"); "may be seen in" is a set
# predicate above.
_ANY_MEMBER = re.compile(
    r"\bassociat(?:ed|ion)\s+(?:with|between)\b|\brelated\s+(?:to|with)\b|\blinked\s+(?:to|with)\b"
    r"|\binclud(?:es?|ed|ing)\b"
    r"|\b(?:can|may|could|might)\s+(?:also\s+|sometimes\s+|commonly\s+|occasionally\s+)?"
    r"(?:cause|produce|lead\s+to|result\s+in|occur|present|precipitate|induce|give\s+rise|predispose"
    r"|be\s+(?:caused|due|associated))\b", re.IGNORECASE)
# A superlative or a uniqueness word makes any of those one answer: "most commonly associated with", "the drug of
# choice used in", "the first sign of", "the only feature", "the probable organism associated with". Not "primary",
# "chief" or "classical", which name diseases and cells; not "first" in "first trimester".
_ONE_ANSWER = re.compile(
    r"\b(?:most|best|least|commonest|earliest|greatest|highest|strongest|largest|only|main|predominant|pathognomonic|"
    r"hallmark)\b|\bof\s+choice\b|\bthe\s+(?:likely|probable)\b"
    r"|\bfirst\b(?![\s-]+(?:degree|trimester|pass|rib|heart|order|arch|week|month|year|day|time)s?\b)", re.IGNORECASE)
# After a set predicate, a blank: nothing, a wh-phrase, or words ending in a preposition ("seen in poisoning with:").
_BLANK_TAIL = re.compile(r"[\s:?.\-–—\"']*|\s*(?:which|what|whom)\b.*|.*\b(?:of|in|with|by|to|for|from|as|among)"
                         r"[\s:?.\-–—\"']*", re.IGNORECASE | re.DOTALL)


def many_answers(sentence: str) -> bool:
    """Whether a question sentence (curate.rules' _question_sentence of a stem), its options removed, has many right
    answers: it asks for one member of a set ("Which of the following is a feature of X?", "Drugs used in X are:") or
    for either side of a loose relation ("X is associated with:", "Which drug can cause this?"), and no superlative
    makes it one answer ("most likely", "best", "drug of choice", "first line" are single-answer shapes)."""
    if _ONE_ANSWER.search(sentence):
        return False
    if _ANY_MEMBER.search(sentence) or _MEMBERS_HEAD.search(sentence):
        return True
    return any(not _BLANK_TAIL.fullmatch(sentence[m.end():]) for m in _MEMBER_OF.finditer(sentence))
