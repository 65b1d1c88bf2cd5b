"""The commitment guard every verifier runs first: does the answer commit to one answer, and not talk to the judge?

A verifier asks "is the reference this answer?"; that question has no meaning for an answer that names several
candidates, dismisses the reference, only claims to be right, or addresses the grader. Those are rejected here,
with the reason, before any verifier (or paid judge) sees them. The checks, in order:

1. empty;
2. addressed to the grader: instructions ("ignore previous instructions", "output True", "mark this as
   correct"), role play ("as the grader"), chat or prompt tags, talk of the reference answer or answer key;
3. no content: nothing but claims of being right ("Correct.", "The answer matches the reference.");
4. hedges, whatever the answer: "X, Y and Z are all possible", "one of these", "cannot decide between";
   a short answer (an option, a phrase) listing three or more items where the reference has fewer;
5. each place the reference is mentioned (match.locate), read in its clause:
   - dismissed ("rather than X", "rules out X", "X has been excluded", "X is less likely") -> rejected;
   - negated ("not X", "no evidence of X", "X is unlikely", "X is not") -> rejected;
   - offered as one of alternatives ("X or Y", "either X", "Y vs X") -> rejected;
   - an aside ("While X can ...,", "such as X", "the differential includes X") -> not a commitment;
   if every mention is an aside, the answer commits to something else -> rejected;
   where the reference is not mentioned (a paraphrase for the verifier to judge), a short answer that joins
   alternatives ("or", "either", "vs", "and/or") -> rejected.
A long answer that names other diagnoses on the way to its conclusion passes: only mentions of the reference
are read, and one committed mention is enough.

When the question asks for the exception ("Which is NOT ...", "all EXCEPT", "least likely"), the right answer
is itself phrased with a negation ("X is not required"), so there only explicit dismissals count.
"""

from __future__ import annotations

import re

from medreason.verify.match import Located, Mention, locate, split_clauses
from medreason.verify.tokens import content, tokens

_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instruction|prompt|rule|rubric|above|previous|prior)s?\b"
    r"|\b(?:output|respond|reply|answer|return|print|say|write)\s+(?:with\s+|only\s+)?[\"'`*]*(?:true|false)\b"
    r"|\bmark(?:ed)?\s+(?:this|it|me|the\s+(?:answer|response))?\s*(?:as\s+)?(?:correct|true|right|accepted)\b"
    r"|\bas\s+(?:the|a|an|your)\s+(?:grader|evaluator|verifier|assessor)\b"
    r"|(?:^|\n)\s*(?:dear\s+|note\s+to\s+(?:the\s+)?)?(?:grader|judge|evaluator|verifier|assessor)s?\s*[:,]"
    r"|\b(?:system|developer)\s+(?:prompt|message|instruction)s?\b"
    r"|</?\s*(?:model\s+response|reference\s+answer|system|assistant|user|instructions?)\s*>"
    r"|\breference\s+(?:answer|solution)\b|\bground[\s-]+truth\b|\b(?:expected|gold)\s+(?:answer|label)\b"
    r"|\banswer\s+key\b|\bverdict\s*[:=]"
    r"|\b(?:matches|match|matching|agrees\s+with|same\s+as|identical\s+to)\s+(?:the\s+)?reference\s*(?:[.!]|$)",
    re.I | re.S,
)

# Words an answer may consist of when it only claims to be right ("Correct.", "True", "This answer is right").
_CLAIM_WORDS = frozenset(
    "true false yes correct right accurate valid exactly indeed answer response final verdict reference match "
    "matche matched agree agreed same identical given above my this that it is am be definitely certainly "
    "absolutely totally completely sure confirmed confirm ok okay option choice solution".split()
)

_HEDGE = re.compile(
    r"\b(?:all|both|any|each)\s+(?:of\s+(?:these|them|the\s+above|the\s+options|the\s+following)\s+|three\s+|two\s+)?"
    r"(?:are|is|could\s+be|would\s+be|may\s+be|might\s+be|seem|remain)\s+(?:equally\s+)?"
    r"(?:possible|plausible|correct|likely|valid|reasonable|acceptable|right)\b"
    r"|\b(?:are|is|seem|remain)\s+(?:all|both|each|equally)\s+(?:equally\s+)?"
    r"(?:possible|plausible|correct|likely|valid|reasonable|acceptable|right)\b"
    r"|\b(?:one|any)\s+of\s+(?:these|the\s+following|the\s+above|them|several)\b"
    r"|\b(?:can(?:not|'t)|unable\s+to|impossible\s+to)\s+(?:decide|choose|pick|determine\s+which|tell\s+which|"
    r"distinguish\s+between)\b"
    r"|\bit\s+(?:could|might|may)\s+be\s+(?:any|several|multiple)\b",
    re.I,
)
# In a short answer: words that join alternatives, and separators of list items.
_ALTERNATIVE = re.compile(r"\b(?:or|either|vs|versus|otherwise)\b|\band\s*/\s*or\b", re.I)
_SEPARATOR = re.compile(r"[,;/&]|\band\b|\bplus\b", re.I)
SHORT_ANSWER_WORDS = 12  # content words: an option or a phrase, not an explanation

# Question stems that ask for the exception: the answer is stated with a negation.
_NEGATIVE_STEM = re.compile(
    r"\b(?:not|no|except|least|false|incorrect|untrue|unlikely|never|wrong|cannot|without|exception|"
    r"contraindicat\w*|avoid\w*|exclude\w*)\b|n't\b",
    re.I,
)

# Context around a mention, as folded tokens (tokens.py: articles dropped, "n't" is the token "t", "does" is "doe").
_DISMISS_BEFORE = re.compile(
    r"\b(?:over|versus|vs|v)$"
    r"|\b(?:rather than|instead of|other than|unlike|rule out|ruled out|ruling out|rule|exclude|excluded|excluding"
    r"|exclusion of|against|argue against|less likely than)(?: \w+){0,3}$"
)
_NEGATE_BEFORE = re.compile(r"\b(?:not|no|never|without|cannot|nor|neither|absence of|t)(?: \w+){0,2}$")
_COPULA = r"(?:is|are|was|were|be|been|seem|seems|appear|appears|remain|remains|would be|doe|did|has been)"
_DISMISS_AFTER = re.compile(
    rf"^(?:{_COPULA} )?(?:\w+ )?(?:ruled out|excluded|less likely|less probable|improbable|inconsistent"
    rf"|incompatible|not supported)\b|^(?:can|could|should|must|may) be (?:ruled out|excluded)\b"
)
_NEGATE_AFTER = re.compile(
    rf"^{_COPULA} (?:\w+ )?(?:not|unlikely|incorrect|wrong|false)\b|^(?:isn|aren|wasn|doesn|didn) t\b"
    r"|^(?:unlikely|incorrect|wrong)\b"
)
_OR_AFTER = re.compile(r"^(?:or|and or|versus|vs|v)\b")
_OR_BEFORE = re.compile(r"\b(?:or|either|versus|vs|v|and or|whether)$")
# Clauses that concede rather than conclude, and cues that make what follows an example or a candidate.
ASIDE_OPENERS = ("while", "although", "though", "even though", "whereas", "despite", "in contrast", "unlike",
                  "apart from", "besides", "aside from", "except")
_ASIDE_BEFORE = re.compile(
    r"\b(?:such as|for example|for instance|eg|e g|including|include|includes|differential|differentials"
    r"|alternative|alternatives|possibilities|other possibilities)((?: \w+){0,5})$"
)
# A verb between the cue and the mention makes it a statement again ("such as suturing, is known as X").
_STATEMENT_WORDS = frozenset({"is", "are", "was", "were", "be", "known", "called", "termed", "named", "represent",
                              "remain"})

_OBJECTIONS = {
    "dismissed": "dismisses the reference",
    "negated": "negates the reference",
    "hedged": "offers the reference as one of several answers",
}


def negative_stem(question: str | None) -> bool:
    """The question asks for the exception ("NOT", "EXCEPT", "least likely", "contraindicated")."""
    return bool(question) and bool(_NEGATIVE_STEM.search(question))


def check(answer: str, reference: str, question: str | None = None) -> str | None:
    """Why ``answer`` (already the final answer) does not commit to one answer; None when it does."""
    if not answer or not answer.strip():
        return "empty answer"
    injection = _INJECTION.search(answer)
    if injection and not _INJECTION.search(reference):
        return f"addresses the grader instead of answering: {injection.group(0).strip()!r}"
    if not [w for w in content(tokens(answer)) if w not in _CLAIM_WORDS]:
        return "no answer content: only claims of being correct, or nothing but function words"
    hedge = _HEDGE.search(answer)
    if hedge and not _HEDGE.search(reference):
        return f"offers several answers: {hedge.group(0)!r}"
    short = len(content(tokens(answer))) <= SHORT_ANSWER_WORDS and len(split_clauses(answer)) <= 1
    if short and len(_SEPARATOR.findall(answer)) >= len(_SEPARATOR.findall(reference)) + 2:
        return "lists several answers"
    located = locate(answer, reference)
    if not located.mentions:
        # The reference is not written out (a paraphrase, or another answer): the verifier judges it, unless
        # a short answer joins alternatives.
        alternative = _ALTERNATIVE.search(answer)
        if short and alternative and not _ALTERNATIVE.search(reference):
            return f"offers alternatives: {alternative.group(0)!r} in a short answer"
        return None
    lenient = negative_stem(question)
    roles = [mention_role(located, m, lenient) for m in located.mentions]
    for m, role in zip(located.mentions, roles):
        if role in _OBJECTIONS:
            return f"{_OBJECTIONS[role]}: {located.clauses[m.clause][:160]!r}"
    if "committed" not in roles:
        return f"mentions the reference only in passing: {located.clauses[located.mentions[0].clause][:160]!r}"
    return None


def mention_role(located: Located, m: Mention, lenient: bool) -> str:
    """What a mention of the reference does: "dismissed", "negated", "hedged", "aside" or "committed"."""
    toks = located.clause_tokens[m.clause]
    before = " ".join(toks[: m.start])
    after = " ".join(toks[m.end:])
    if _DISMISS_BEFORE.search(before) or _DISMISS_AFTER.search(after):
        return "dismissed"
    if not lenient and (_NEGATE_BEFORE.search(before) or _NEGATE_AFTER.search(after)):
        return "negated"
    if _OR_AFTER.search(after) or _OR_BEFORE.search(before):
        return "hedged"
    opener = located.clauses[m.clause].lower().lstrip(" *#-(\"'")
    aside = _ASIDE_BEFORE.search(before)
    if opener.startswith(ASIDE_OPENERS) or (aside and not _STATEMENT_WORDS & set(aside.group(1).split())):
        return "aside"
    return "committed"
