"""The commitment guard every verifier runs first: does the answer commit to one answer, and not talk to the judge?

A verifier asks "is the reference this answer?"; it cannot be asked about an answer that names several
candidates, dismisses the reference, only claims to be right, or addresses the grader. Those are rejected
here, with the reason, before any verifier (or paid judge) sees them.

The reference-aware checks look at each place the reference is mentioned in the answer:
- dismissed ("not X", "X is unlikely", "rather than X", "rules out X") -> rejected;
- offered as one of alternatives ("X or Y", "either ... or") -> rejected;
- mentioned only in passing ("while X can ...", "such as X", "the differential includes X") and nowhere else
  -> rejected: the answer commits to something else.
A long answer that names other diagnoses on the way to its conclusion passes: only mentions of the reference
itself are read, and one committed mention is enough.

When the question itself asks for the exception ("Which is NOT ...", "all EXCEPT", "least likely") the
answer has to be phrased with a negation ("X is not required"), so there only explicit dismissals count.
"""

from __future__ import annotations

import re

from medreason.verify.match import Located, Mention, locate
from medreason.verify.normalize import content, tokens

# Text addressed to the grader, not an answer to the question.
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b.{0,40}\b(?:instruction|prompt|rule|above|previous|prior)s?\b"
    r"|\b(?:output|respond|reply|answer|return|print|say|write|type)\s+(?:with\s+|only\s+)?[\"'`*]*(?:true|false|yes)\b"
    r"|\bmark\s+(?:this|it|the\s+(?:answer|response))\s+(?:as\s+)?(?:correct|true|right|accepted)\b"
    r"|\bas\s+(?:the|a|an)\s+(?:grader|judge|evaluator|verifier|reviewer|assessor)\b"
    r"|\b(?:grader|judge|evaluator|verifier|assessor)s?\s*[:,]"
    r"|\b(?:dear|attention|note\s+to\s+(?:the\s+)?)\s*(?:grader|judge|evaluator|verifier)\b"
    r"|\b(?:system|developer)\s+(?:prompt|message|instruction)s?\b"
    r"|</?\s*(?:model\s+response|reference\s+answer|system|assistant|user|instruction)s?\s*>"
    r"|\breference\s+answer\b|\bground[\s-]+truth\b|\bexpected\s+answer\b|\bgold\s+(?:answer|label)\b"
    r"|\b(?:matches|match|matching|agrees\s+with|same\s+as|identical\s+to)\s+(?:the\s+)?(?:reference|key|answer\s+key)\b"
    r"|\bverdict\b",
    re.I | re.S,
)

# Words an answer may consist of when it only claims to be right ("Correct.", "True", "This answer is right").
_CLAIM_WORDS = frozenset(
    "true false yes correct right accurate valid exactly indeed answer response final verdict reference match "
    "matche matched agree agree agreed same identical given above my this that it is am be the a an as to with "
    "definitely certainly absolutely totally completely sure confirmed confirm yes ok okay option "
    "choice solution".split()
)

# Offering several answers, whatever they are.
_HEDGE = re.compile(
    r"\beither\b[^.;\n]{1,120}?\bor\b"
    r"|\band\s*/\s*or\b"
    r"|\b(?:all|both|any|each)\s+(?:of\s+(?:these|them|the\s+above|the\s+options|the\s+following)\s+|three\s+|two\s+)?"
    r"(?:are|is|could\s+be|would\s+be|may\s+be|might\s+be|seem|remain)\s+(?:equally\s+)?"
    r"(?:possible|plausible|correct|likely|valid|reasonable|acceptable|right)\b"
    r"|\b(?:one|any)\s+of\s+(?:these|the\s+following|the\s+above|them|several)\b"
    r"|\b(?:can(?:not|'t)|unable\s+to|impossible\s+to)\s+(?:decide|choose|pick|determine\s+which|tell\s+which|"
    r"distinguish\s+between)\b"
    r"|\bit\s+(?:could|might|may)\s+be\s+(?:any|several|multiple)\b",
    re.I,
)

# Question stems that ask for the exception: the answer is stated with a negation.
_NEGATIVE_STEM = re.compile(
    r"\b(?:not|no|except|least|false|incorrect|untrue|unlikely|never|wrong|cannot|can't|isn't|doesn't|don't|"
    r"aren't|won't|without|contraindicat\w*|avoid\w*|exclude\w*|exception)\b|n't\b",
    re.I,
)

# Context before a mention (normalised tokens, articles dropped) that dismisses it. Explicit dismissals count
# for every question; plain negations ("not X") only when the question does not ask for the exception.
_DISMISS_BEFORE = re.compile(
    r"(?:\brather than|\binstead of|\bother than|\bunlike|\brule out|\bruled out|\bruling out|\bexclude|\bexcluded"
    r"|\bexcluding|\bexclusion of|\bagainst|\bversus|\bv|\bover)(?: \w+){0,3}$"
)
_NEGATE_BEFORE = re.compile(r"\b(?:not|no|never|without|cannot|nor|neither|lack|absence of|t)(?: \w+){0,2}$")
_DISMISS_AFTER = re.compile(
    r"^(?:\w+ ){0,2}?(?:ruled out|rule out|excluded|been excluded|less likely|less probable"
    r"|improbable|inconsistent|incompatible|doe not fit|doesn t fit|not supported)\b"
)
_NEGATE_AFTER = re.compile(r"^(?:\w+ ){0,2}?(?:not|unlikely|incorrect|wrong|false|t)\b")
# Context that makes a mention an aside: a concession, an example, a list of what else was considered.
_ASIDE_OPENERS = ("while", "although", "though", "even though", "whereas", "despite", "in contrast", "unlike",
                  "apart from", "besides", "aside from", "except")
_ASIDE_BEFORE = re.compile(
    r"\b(?:such as|for example|for instance|eg|e g|including|differential|differentials|alternative|alternatives"
    r"|other possibilities|possibilities|considered|consider|considering)((?: \w+){0,5})$"
)
# A copula between the aside cue and the mention makes it a statement again ("such as suturing, is known as X").
_COPULA = frozenset({"is", "are", "was", "were", "be", "known", "called", "termed", "named", "represent", "remain"})
# "or" next to the mention: offered as one of two answers.
_OR_AFTER = re.compile(r"^(?:or|and or|versus|vs)\b")
_OR_BEFORE = re.compile(r"\b(?:or|either|versus|vs)$")


def negative_stem(question: str | None) -> bool:
    return bool(question) and bool(_NEGATIVE_STEM.search(question))


def check(answer: str, reference: str, question: str | None = None) -> str | None:
    """Why ``answer`` (already the final answer) does not commit to one answer; None when it does."""
    if not answer or not answer.strip():
        return "empty answer"
    injection = _INJECTION.search(answer)
    if injection and not _INJECTION.search(reference):
        return f"addresses the grader instead of answering: {injection.group(0)!r}"
    if not [w for w in content(tokens(answer)) if w not in _CLAIM_WORDS]:
        return "no answer content: only claims of being correct, or nothing but function words"
    hedge = _HEDGE.search(answer)
    if hedge and not _HEDGE.search(reference):
        return f"offers several answers: {hedge.group(0)!r}"
    return _check_mentions(answer, reference, question)


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
    if opener.startswith(_ASIDE_OPENERS) or (aside and not _COPULA & set(aside.group(1).split())):
        return "aside"
    return "committed"


_OBJECTIONS = {
    "dismissed": "dismisses the reference",
    "negated": "negates the reference",
    "hedged": "offers the reference as one of several answers",
}


def _check_mentions(answer: str, reference: str, question: str | None) -> str | None:
    located = locate(answer, reference)
    if not located.mentions:
        return None  # the reference is not written out: the verifier judges paraphrases
    lenient = negative_stem(question)
    roles = [mention_role(located, m, lenient) for m in located.mentions]
    for m, role in zip(located.mentions, roles):
        if role in _OBJECTIONS:
            return f"{_OBJECTIONS[role]}: {located.clauses[m.clause][:160]!r}"
    if "committed" not in roles:
        return f"mentions the reference only in passing: {located.clauses[located.mentions[0].clause][:160]!r}"
    return None
