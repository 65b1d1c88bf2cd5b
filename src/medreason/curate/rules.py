"""Rules that turn multiple-choice questions into verifiable open-ended problems, with no LLM.

prefilter() drops items that cannot have one clear answer once the options are removed. The paper drops
questions that ask for the incorrect or exception option, or that have several correct answers. Rules are
tried in this order and the first match wins:
  multi_answer       the source marks the item as multi-answer (MedMCQA choice_type "multi")
  statement_list     the stem lists statements to pick from ("a) ... b) ... c) ...", "1. ... 2. ... 3. ...")
  asks_exception     the question sentence asks for the exception ("All of the following ... EXCEPT:")
  asks_negative      the question sentence asks for the false or NOT-true option ("Which ... is not ...",
                     "False about", "incorrect", "untrue", "least likely", "unable to", "has no role")
  all_of_the_above   the key is "All of the above" / "All of these" / "All"
  none_of_the_above  the key is "None of the above" / "None" / "Neither"
  combined_options   the key combines other options ("Both A and B", "A and C", "ad", "1,2,3", "Both")
Only the question sentence (usually the last one) is read for negations, so "the fever does not respond to
treatment" in a vignette does not count, and neither does a negation about the patient ("why he did not improve").
The last three rules read only the key. A distractor such as "None of the above" does not make the key ambiguous.

rule_rewrite() keeps the stem verbatim and rewrites only the option-dependent question phrasing:
"Which of the following is X?" -> "What is X?"; "Which of the following enzymes is X?" -> "Which enzyme is X?";
"A biopsy is most likely to show which of the following?" -> "What is a biopsy most likely to show?". Fill-in
stems ("The rate-limiting enzyme of the urea cycle is:") are left as they are. The ground truth is the key's text.
It returns a Rewrite: the question and its ground truth, or, when it cannot do this safely, a failure code
(REWRITE_FAILURES); a question with many right answers once its options are gone is not_reformulatable.

leaked_options() is the final check on every rewrite, from the rules or from an LLM. It looks for option letters,
references to "the following" or "the options", and text that lists most of the options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medreason.curate.many_answers import many_answers

PREFILTER_REASONS: tuple[str, ...] = (
    "multi_answer", "statement_list", "asks_exception", "asks_negative",
    "all_of_the_above", "none_of_the_above", "combined_options",
)
REWRITE_FAILURES: tuple[str, ...] = (
    "empty_question",             # nothing to rewrite
    "answer_not_in_options",      # the answer is neither an option's text nor an option's letter
    "answer_not_self_contained",  # the key needs the options: "B", "Both", "None", "All of the above", "ad"
    "answer_too_long",            # more than max_answer_words words
    "option_dependent",           # the question needs its options: EXCEPT/NOT, true/false, "which statement",
                                  # an "of the following" that could not be rewritten, or nothing left to ask
    "leaks_options",              # the rewrite still shows option letters or lists the options (leaked_options)
    "not_reformulatable",         # many right answers once the options are gone ("Which of the following is
                                  # associated with X?"): curate.many_answers; the authors' filter label for it
)
LEAK_REASONS: tuple[str, ...] = ("option_letter", "refers_to_following", "refers_to_options", "lists_options")
# Option texts too common in vignettes to show that a question lists its options.
_GENERIC_OPTIONS = {"increased", "decreased", "unchanged", "normal", "high", "low", "elevated", "reduced", "raised",
                    "absent", "present", "positive", "negative", "yes", "no", "none", "all", "both", "true", "false"}

# ---- shared patterns -------------------------------------------------------------------------------------------
# Time words after "the following" ("the following day") mean "next": ordinary clinical text, not the options.
_TEMPORAL = (r"(?:day|days|morning|afternoon|evening|night|week|weeks|month|months|year|years|hour|hours|visit|"
             r"admission|shift|cycle|season|pregnancy|dose|session)")
# "of the following", "among following": always about the options (unless temporal: "of the following day").
_OF_FOLLOWING = re.compile(rf"\b(?:of|among|amongst|from)\s+(?:the\s+)?following\b(?!\s+{_TEMPORAL}\b)", re.I)
# "the following" elsewhere points at the options unless it introduces stem data ("shows the following:").
_THE_FOLLOWING = re.compile(rf"\bthe\s+following\b(?!\s+{_TEMPORAL}\b)(?![^.?!\n]{{0,60}}[:\n])", re.I)
# "which of these", "none of the above", "all of these are": pronouns that only make sense with a list of options.
_OF_THESE = re.compile(r"\bwhich\s+(?:one\s+)?of\s+(?:these|those)\b"
                       r"|\b(?:all|none|both|any|either|neither|each|one)\s+of\s+the\s+above\b"
                       r"|\b(?:all|none|both|any|either|neither)\s+of\s+(?:these|those|them)\b"
                       r"(?=\s*(?:[.?!:;,]|$|(?:is|are|was|were)\b))", re.I)
# "the options", "answer choices", "options given", "which statement"; not "treatment options", "drug of choice".
_OPTIONS_WORD = re.compile(r"\b(?:the|these|those|above|below|given|listed|provided|following|answer|remaining|other)"
                           r"\s+(?:options|choices|alternatives)\b(?!\s+(?:for|of|in|available)\b)"
                           r"|\b(?:options|choices|alternatives)\s+(?:given|listed|provided|above|below|shown)\b"
                           r"|\bwhich\s+(?:option|choice|answer|alternative|statement)s?\b", re.I)
# "(A)", "(b)": a parenthesised option letter.
_PAREN_LETTER = re.compile(r"\(\s*[A-Ea-e]\s*\)")
# "option C", "choice B", "answer D", "options A and B" (the letter must be a capital letter, written alone).
_NAMED_LETTER = re.compile(r"\b(?i:options?|choices?|answers?)\s*[:#]?\s*\(?[A-E]\)?(?![\w-])")
# "both A and B", "either C or D": letters combined as in an answer key. "hepatitis A and B" does not match.
_LETTER_COMBO = re.compile(r"\b(?i:both|either|neither)\s+[A-E]\s+(?i:and|or|nor)\s+[A-E]\b")
# An options list "A. Foo B. Bar" / "A) foo B) bar": "A" starts the text, a line, or follows ':' or '?'. So
# "vitamin A. ... hepatitis B." does not match, nor does "E. coli" ("X." must precede a capital or a digit).
_LETTER_MARKERS = re.compile(r"(?:^|[\n:?])\s*\(?A(?:[):]|\.(?=\s+[A-Z0-9]))\s*\S.*?"
                             r"(?<![\w.])\(?B(?:[):]|\.(?=\s+[A-Z0-9]))\s*\S", re.S)
# Lettered statements "a) ... b)". Later markers may be stuck to the word before them ("jejunumc)").
_LETTER_PAIR = re.compile(r"(?<![A-Za-z0-9])\(?a\)\s*\S.*?b\)", re.S)

# A statement list in a stem: three markers in order. Lower-case letters may be stuck to the word before them;
# capital letters, "a." and numbers must stand alone. A numbered list starts the text, a line, or follows [:;?].
_STATEMENT_LIST = (
    re.compile(r"(?<![A-Za-z0-9])\(?a\)\s*\S.*?b\)\s*\S.*?c\)", re.S),
    re.compile(r"(?<![A-Za-z0-9])\(?A\)\s*\S.*?(?<![A-Za-z0-9])\(?B\)\s*\S.*?(?<![A-Za-z0-9])\(?C\)", re.S),
    re.compile(r"(?<![\w.])a\.\s+\S.*?(?<![\w.])b\.\s+\S.*?(?<![\w.])c\.\s+\S", re.S),
    re.compile(r"(?:^|[\n:;?])\s*\(?1[.)]\s+\S.*?(?<![\w.,/])\(?2[.)]\s+\S.*?(?<![\w.,/])\(?3[.)]\s+\S", re.S),
    re.compile(r"(?<![A-Za-z])\(?i\)\s*\S.*?(?<![A-Za-z])\(?ii\)\s*\S.*?(?<![A-Za-z])\(?iii\)", re.S),
)

# ---- the key ---------------------------------------------------------------------------------------------------
# "All", "All of the above", "All of these", "All are true".
_ALL_KEY = re.compile(r"all(?:\s+(?:of\s+)?(?:the\s+)?(?:above|these|of\s+them)|\s+are\s+(?:true|correct))?", re.I)
# "None", "Neither", "None of the above", "Neither of these".
_NONE_KEY = re.compile(r"(?:none|neither)(?:\s+of\s+(?:the\s+)?(?:above|these|them))?", re.I)
# "Both", "Both A and B", "A & C", "a, b and d", "1,2,3", "i and iii", "Either", "Any of the above".
_SEP = r"\s*(?:,|&|\+|and|or)\s*"
_COMBO_KEY = re.compile(rf"(?:(?:both|either|any)(?:\s+(?:of\s+)?(?:the\s+)?(?:above|these))?"
                        rf"|(?:both\s+)?[a-e](?:{_SEP}[a-e])+|[1-9](?:{_SEP}[1-9])+"
                        rf"|(?:i{{1,3}}|iv|v)(?:{_SEP}(?:i{{1,3}}|iv|v))+)", re.I)
# Glued lower-case letters in order: the "ad", "bc", "abe" keys of statement lists (not "AB", the blood group).
_GLUED_KEY = re.compile(r"a?b?c?d?e?")
# A bare option letter ("B", "(c)", "D.") or a truth value: not an answer on its own.
_BARE_KEY = re.compile(r"\(?[A-Za-z]\)?\.?|true|false", re.I)

# ---- the question sentence ---------------------------------------------------------------------------------------
# Sentence boundaries: ., ?, ! followed by white space and a capital letter or '(', or a line break.
_SENTENCE_SPLIT = re.compile(r"(?<=[.?!])[\"'”’)]*\s+(?=[A-Z(\"'“‘])|\s*\n\s*")
# Signs that a piece of a stem is the question: a question mark, a wh-word, "except", a trailing ':' or dash.
_QUESTIONISH = re.compile(r"\?|\b(?:which|what|except)\b|[:\-–—]\s*$", re.I)
_EXCEPT = re.compile(r"\bexcept\b", re.I)
_EXCEPT_UPPER = re.compile(r"\bEXCEPT\b")  # upper case anywhere is the MedMCQA/USMLE exception marker
_ALL_EXCEPT = re.compile(r"\ball\b[^.?!]*\bexcept\b", re.I)  # "All of the following ... except", in one sentence
# Negative cues in the question sentence. "false"/"incorrect"/"wrong" count only as predicates or at the head
# ("is false", "False about X", "incorrect statement"), so "false positive" does not.
_NEGATIVE = re.compile(
    r"\bnot\b|n't\b|\bcannot\b|\bnever\b(?!-)|\bunable\b|\bleast\s+likely\b"
    r"|\bno\s+(?:role|effect|place|association|relation|use|value|action)\b"
    r"|\b(?:has|have|involves?|requires?|causes?|produces?|shows?|needs?)\s+no\b"
    r"|\b(?:false|incorrect|untrue|wrong)\b"
    r"(?=\s*(?:statements?\b|about\b|regarding\b|concerning\b|of\b|for\b|with\b|in\b|is\b|are\b|[:?\-–—]|$))"
    r"|\b(?:is|are|be|statements?)\s+(?:false|incorrect|untrue|wrong)\b", re.I)
# Between the wh-word (or the sentence start) and the cue, these words mean the negation is about the patient or a
# subordinate clause ("the reason this patient did not improve", "a patient who cannot swallow"), not about the option.
_NEG_BLOCKERS = re.compile(r"\b(?:who|whom|whose|if|when|unless|until|although|though|despite|because|since|after|"
                           r"while|patient|patients|he|she|his|her|him|they|their|child|man|woman|boy|girl|infant|"
                           r"baby|mother|neonate|newborn)\b", re.I)
_WH = re.compile(r"\b(?:which|what)\b", re.I)
# "True about X:", "Which is correct regarding X", "Which of the following statements is true?" ask for a true option,
# and the open version would have many right answers.
_TRUE_FALSE = re.compile(r"^\s*(?:true|correct|false|incorrect)\b"
                         r"|\b(?:true|correct)\s*"
                         r"(?:statements?\b|about\b|regarding\b|concerning\b|of\b|for\b|with regard\b|[:?\-–—]|$)"
                         r"|\b(?:is|are)\s+(?:true|correct)\b", re.I)

# ---- the rewrite ---------------------------------------------------------------------------------------------------
# "which of the following", "which one of the following", "which among the following", "which of these".
_WHICH_OF = re.compile(r"\bwhich\s+(?:one\s+)?(?:of|among|amongst|from)\s+(?:the\s+)?"
                       r"(?:following|these|those|given|above|listed)\b(?:\s+ones?\b)?", re.I)
# Words that end the noun phrase after "which of the following": auxiliaries and adverbs that start the predicate.
_AUX = {"is", "are", "was", "were", "be", "would", "will", "can", "could", "should", "may", "might", "must", "has",
        "have", "had", "does", "do", "did", "best", "most", "least", "more", "likely", "also", "commonly", "usually",
        "typically", "often", "primarily", "mainly", "directly", "help", "helps"}
# Third-person verbs often found right after the noun ("Which of the following drugs causes X?").
_VERBS_3SG = {"causes", "explains", "describes", "increases", "decreases", "inhibits", "prevents", "reduces",
              "represents", "indicates", "accounts", "contributes", "acts", "binds", "blocks", "produces", "results",
              "leads", "requires", "occurs", "shows", "involves", "affects", "predisposes", "characterizes",
              "supplies", "innervates", "crosses", "passes", "arises", "develops", "originates", "mediates",
              "activates", "stimulates", "suppresses", "targets", "corresponds", "correlates", "confirms",
              "differentiates", "distinguishes", "forms", "contains", "carries", "drains", "lies", "refers"}
# A word followed by one of these is a verb: "Which of the following shifts the curve", "... caused this".
_DETERMINERS = {"the", "a", "an", "this", "that", "these", "those", "its", "his", "her", "their", "your"}
_SINGULAR_VERBS = {"is", "was", "has", "does"} | _VERBS_3SG
_PREPOSITIONS = {"in", "of", "for", "with", "to", "on", "at", "by", "from", "as", "among", "during", "after",
                 "before", "regarding", "about", "that", "which"}
# A noun after "which of the following" that names the options themselves: the question is about the list.
_META_NOUNS = {"option", "options", "choice", "choices", "statement", "statements", "answer", "answers",
               "alternative", "alternatives", "one", "ones", "item", "items"}
# Words that carry no content of their own: a rewrite made only of them ("What is most likely?") asks nothing.
_VAGUE_WORDS = {"what", "which", "is", "are", "was", "were", "be", "would", "will", "can", "could", "should", "may",
                "might", "most", "more", "least", "likely", "probable", "probably", "the", "true", "correct", "best",
                "right", "appropriate", "also", "seen", "found", "present", "expected", "usually", "commonly",
                "typically", "to", "of", "in"}
# Auxiliaries that can be moved to the front of the question ("X is most likely to show which" -> "What is X ...").
_INVERTIBLE = re.compile(r"^(?P<subj>\S.*?)\s+(?P<aux>is|are|was|were|will|would|can|could|should|may|might|must)"
                         r"\s+(?P<rest>.*)$", re.S)
# The aux is not moved past these words: the wh-phrase is inside a clause ("when the body is in which ...").
_CLAUSE_WORDS = re.compile(r"\b(?:that|which|who|whom|whose|when|where|while|if|because|since|although|though|"
                           r"unless|until|whereas|and|or|but)\b|[;:]", re.I)
# Abbreviations with a full stop that would fake a sentence start ("Dr. Smith").
_ABBREV = re.compile(r"\b(?:Dr|Mr|Mrs|Ms|St|vs|etc|approx|Fig|No|e\.g|i\.e)\.")
_ABBREV_END = re.compile(_ABBREV.pattern + r"\s*$")
_IRREGULAR_SINGULAR = {
    "teeth": "tooth", "feet": "foot", "children": "child", "women": "woman", "men": "man", "diagnoses": "diagnosis",
    "prognoses": "prognosis", "analyses": "analysis", "hypotheses": "hypothesis", "metastases": "metastasis",
    "criteria": "criterion", "phenomena": "phenomenon", "indices": "index", "viruses": "virus", "bacteria": "bacterium",
    "fungi": "fungus", "nuclei": "nucleus", "stimuli": "stimulus", "emboli": "embolus", "thrombi": "thrombus",
    "bronchi": "bronchus", "appendices": "appendix", "vertebrae": "vertebra", "media": "medium",
    "species": "species", "series": "series", "mitochondria": "mitochondrion", "sequelae": "sequela",
    "processes": "process", "diseases": "disease", "causes": "cause", "doses": "dose", "bases": "base",
}


def _resolve_key(options: dict[str, str], answer: str) -> str | None:
    """The key's option text: ``answer`` is the correct option's text (MedQA's ``answer``), or its letter."""
    texts = [t.strip() for t in options.values()]
    a = (answer or "").strip()
    if a in texts:
        return a
    if a in options:
        return options[a].strip()
    return None


def _key_reason(key: str) -> str | None:
    """all_of_the_above / none_of_the_above / combined_options when the key only makes sense next to the options."""
    k = re.sub(r"[\s.]+$", "", key.strip())
    if _ALL_KEY.fullmatch(k):
        return "all_of_the_above"
    if _NONE_KEY.fullmatch(k):
        return "none_of_the_above"
    if _COMBO_KEY.fullmatch(k) or (len(k) >= 2 and _GLUED_KEY.fullmatch(k)):
        return "combined_options"
    return None


def _question_sentence(question: str) -> str:
    """The sentence that asks: the last piece of the stem that looks like a question (the last piece otherwise)."""
    pieces = [p for p in _SENTENCE_SPLIT.split(question.strip()) if p and p.strip()]
    for piece in reversed(pieces):
        if _QUESTIONISH.search(piece):
            return piece
    return pieces[-1] if pieces else ""


def _asks_exception(question: str) -> bool:
    sentence = _question_sentence(question)
    return bool(_EXCEPT_UPPER.search(question) or _EXCEPT.search(sentence) or _ALL_EXCEPT.search(sentence))


def _asks_negative(question: str) -> bool:
    sentence = _question_sentence(question)
    for cue in _NEGATIVE.finditer(sentence):
        heads = [m.end() for m in _WH.finditer(sentence, 0, cue.start())]
        between = sentence[heads[-1] if heads else 0:cue.start()]
        if not _NEG_BLOCKERS.search(between):
            return True
    return False


def asks_exception_or_negative(question: str) -> bool:
    """The question sentence asks for the exception or for what is NOT true (prefilter's asks_exception or
    asks_negative): then its right answer is itself phrased with a negation. Read by the verifier's guard."""
    return _asks_exception(question) or _asks_negative(question)


def prefilter(question: str, options: dict[str, str], answer: str, choice_type: str | None) -> str | None:
    """None if the item may have one clear answer; else the reason code why it is unambiguous-by-construction
    unsuitable. ``answer`` is the key's option text (or its letter); ``choice_type`` is MedMCQA's, else None."""
    if (choice_type or "").strip().lower() == "multi":
        return "multi_answer"
    if any(p.search(question) for p in _STATEMENT_LIST):
        return "statement_list"
    if _asks_exception(question):
        return "asks_exception"
    if _asks_negative(question):
        return "asks_negative"
    key = _resolve_key(options, answer)
    return _key_reason(key if key is not None else answer or "")


# ---- leaked_options ----------------------------------------------------------------------------------------------
def _norm_words(text: str) -> str:
    return " " + " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower()).split()) + " "


def leaked_options(question: str, options: dict[str, str]) -> str | None:
    """None if an open question is clean, else why it is not (a LEAK_REASONS code): it refers to option letters
    ("(A)", "B.", "option C", "a) ... b)"), to "the following"/"the options/choices", or lists the options
    (contains most of the option texts). Used on BOTH rule and LLM rewrites, so it is strict, but it does not flag
    ordinary clinical text ("following a car accident", "vitamin A", "hepatitis B", "type A", a stem that
    mentions one wrong option's word)."""
    if any(p.search(question) for p in (_PAREN_LETTER, _NAMED_LETTER, _LETTER_COMBO, _LETTER_MARKERS, _LETTER_PAIR)):
        return "option_letter"
    if _OF_FOLLOWING.search(question) or _THE_FOLLOWING.search(question):
        return "refers_to_following"
    if _OPTIONS_WORD.search(question) or _OF_THESE.search(question):
        return "refers_to_options"
    texts = [_norm_words(t) for t in options.values()]
    # "20", "1:06", "B" or "Increased" turn up in any vignette: only options with some content of their own count
    texts = [t for t in texts if sum(c.isalpha() for c in t) >= 3 and t.strip() not in _GENERIC_OPTIONS]
    q = _norm_words(question)
    shown = sum(t in q for t in set(texts))
    if shown >= 2 and shown >= len(options) // 2 + 1:
        return "lists_options"
    return None


# ---- rule_rewrite --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rewrite:
    """An open-ended problem made from an MCQ (question and ground truth), or the code of why none was made."""
    question: str | None = None
    ground_truth: str | None = None
    failure: str | None = None  # a REWRITE_FAILURES code (curate.problems adds its own for LLM and source rewrites)

    def __post_init__(self) -> None:
        if (self.failure is None) != (self.question is not None and self.ground_truth is not None):
            raise ValueError(f"a Rewrite has a question and a ground truth, or a failure: {self}")

    @property
    def ok(self) -> bool:
        return self.failure is None


def _singular(word: str) -> str:
    """A plural noun's singular, for the common shapes in exam questions; anything else is returned as is."""
    low = word.lower()
    if low in _IRREGULAR_SINGULAR:
        s = _IRREGULAR_SINGULAR[low]
        return s[0].upper() + s[1:] if word[0].isupper() else s
    if len(low) > 4 and low.endswith("ies"):
        return word[:-3] + "y"
    if low.endswith(("sses", "xes", "zzes", "shes", "tches", "oaches")):
        return word[:-2]
    if len(low) > 3 and low.endswith("s") and not low.endswith(("ss", "us", "is", "os", "as")):
        return word[:-1]
    return word


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lower_subject(subj: str) -> str:
    """Lower-case a sentence-initial subject's first letter ("A renal" -> "a renal"), but not "CT" or "MRI"."""
    first = subj.split()[0]
    return subj[:1].lower() + subj[1:] if first[1:] == first[1:].lower() else subj


def _rewrite_sentence(pre: str, tail: str, sentence_start: bool) -> str | None:
    """Rewrite the sentence ``pre + "which of the following" + tail``. None when it cannot be done reliably."""
    words = tail.split()
    if words and words[0][0] in ",(":
        return None  # "Which of the following, if any, ...": not a shape we rewrite
    np_words: list[str] = []
    verb: str | None = None
    trailing = False  # the noun phrase ends the sentence: "... to show which of the following findings?"
    if not words or re.fullmatch(r"[?.:;!\-–—\"]+", words[0]):
        trailing = True
    else:
        for i, w in enumerate(words):
            bare = w.lower().strip("\"'“”‘’,")
            nxt = words[i + 1].lower() if i + 1 < len(words) else ""
            stop = re.search(r"[?.:;!]+[\"”]?$", w)
            if bare in _AUX or (bare in _VERBS_3SG and nxt != "of") or nxt in _DETERMINERS:
                verb = bare
                break
            np_words.append(w)
            if stop:
                trailing = True
                break
            if i >= 6:
                return None  # no verb in sight: not a phrase we understand
        else:
            trailing = True
    if np_words:
        clean = [w.rstrip("?.:;!\"”") for w in np_words]
        if clean[0].lower() in _META_NOUNS or (len(clean) > 1 and clean[-1].lower() in _META_NOUNS):
            return None  # "which of the following statements/options": the question is about the list itself
        if verb is None and sentence_start:
            return None  # "Which of the following drugs cause X?": no verb we recognise, so the number is unknown
        # the head noun is the last word before a preposition or a parenthesis ("changes in GFR", "features (if seen)")
        head = next((i for i, w in enumerate(clean) if i and (w.lower() in _PREPOSITIONS or w.startswith("("))),
                    len(clean)) - 1
        if verb in _SINGULAR_VERBS or (verb in {"best", "most", "least"} and _third_person(words, len(np_words) + 1)) \
                or (verb is None and trailing):
            clean[head] = _singular(clean[head])
        np_words = [c + w[len(w.rstrip("?.:;!\"”")):] for c, w in zip(clean, np_words)]
    rest = " ".join(words[len(np_words):])
    wh = "which " + " ".join(np_words) if np_words else "what"
    wh_bare = wh.rstrip("?.:;!\"”")

    if trailing and not sentence_start and not _ABBREV.search(pre):
        inverted = _invert(pre, wh_bare)
        if inverted:
            return inverted
    first = _upper_first(wh) if sentence_start else wh
    sep = "" if not rest or re.match(r"[?.:;!\"”]", rest) else " "
    text = pre + first + sep + rest
    if sentence_start and not text.rstrip().endswith("?"):
        text = re.sub(r"[\s:;.\-–—\"]*$", "", text) + "?"
    return text


def _third_person(words: list[str], i: int) -> bool:
    nxt = words[i].lower() if i < len(words) else ""
    return nxt.endswith("s") and not nxt.endswith("ss")


def _invert(pre: str, wh: str) -> str | None:
    """"[Prefix, ]X is most likely to show" + "what" -> "[Prefix, ]what is X most likely to show?" when safe."""
    body = pre.rstrip()
    prefix = ""
    if "," in body:
        cut = body.rfind(",") + 1
        prefix, body = body[:cut] + " ", body[cut:].strip()
    m = _INVERTIBLE.match(body)
    if not m or len(m.group("subj").split()) > 12 or _CLAUSE_WORDS.search(m.group("subj")) \
            or _CLAUSE_WORDS.search(m.group("rest")):
        return None
    subj = m.group("subj") if prefix else _lower_subject(m.group("subj"))
    head = wh if prefix else _upper_first(wh)
    rest = m.group("rest").strip()
    return f"{prefix}{head} {m.group('aux')} {subj}{' ' + rest if rest else ''}?"


def self_contained(answer: str) -> bool:
    """Whether a ground truth stands without the options: not a bare letter or truth value, not "all/none of the
    above", not a combination of options ("Both A and B", "ad", "1,2,3")."""
    answer = answer.strip()
    return bool(answer) and not (_BARE_KEY.fullmatch(answer) or _key_reason(answer)
                                 or re.search(r"\bthe\s+above\b", answer, re.I))


def rule_rewrite(question: str, options: dict[str, str], answer: str, max_answer_words: int = 12) -> Rewrite:
    """The open question and its ground truth, or a failure code from REWRITE_FAILURES. ``answer`` is the key's
    option text (or its letter); the ground truth is that option's text, stripped. Meant for items prefilter() kept,
    but it refuses exception/negative questions by itself too."""
    stem = (question or "").strip()
    if stem.count('"') % 2 == 1 and stem.endswith('"'):
        stem = stem[:-1].rstrip()  # a stray closing quote left by the source's CSV export
    if not stem:
        return Rewrite(failure="empty_question")
    key = _resolve_key(options, answer)
    if key is None:
        return Rewrite(failure="answer_not_in_options")
    if not self_contained(key):
        return Rewrite(failure="answer_not_self_contained")
    if len(key.split()) > max_answer_words:
        return Rewrite(failure="answer_too_long")
    if _asks_exception(stem) or _asks_negative(stem) or _TRUE_FALSE.search(_question_sentence(stem)):
        return Rewrite(failure="option_dependent")
    if many_answers(_question_sentence(stem)):
        return Rewrite(failure="not_reformulatable")

    matches = list(_WHICH_OF.finditer(stem))
    if len(matches) > 1:
        return Rewrite(failure="option_dependent")
    if matches:
        m = matches[0]
        starts = [b.end() for b in _SENTENCE_SPLIT.finditer(stem)
                  if b.end() <= m.start() and not _ABBREV_END.search(stem, 0, b.start())]
        start = starts[-1] if starts else 0
        end_m = _SENTENCE_SPLIT.search(stem, m.end())
        end = end_m.start() if end_m else len(stem)
        pre = stem[start:m.start()]
        rewritten = _rewrite_sentence(pre, stem[m.end():end], sentence_start=not pre.strip())
        if rewritten is None or not set(re.findall(r"[a-z']+", _question_sentence(rewritten).lower())) - _VAGUE_WORDS:
            return Rewrite(failure="option_dependent")
        stem = stem[:start] + rewritten + stem[end:]

    if _OF_FOLLOWING.search(stem) or _THE_FOLLOWING.search(stem) or _OF_THESE.search(stem) or _WHICH_OF.search(stem):
        return Rewrite(failure="option_dependent")
    if leaked_options(stem, options):
        return Rewrite(failure="leaks_options")
    return Rewrite(stem, key)
