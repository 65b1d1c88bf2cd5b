"""Finding the reference inside an answer: clauses, tolerant token equality, contiguous mentions, overlap.

Shared by the guard (is the reference negated or only mentioned in passing?) and the lexical verifier (is the
reference there at all?), so both see the same mentions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from medreason.verify.tokens import CRITICAL, STOPWORDS, content, tokens

# Suffixes that change the meaning of a medical word: "prolactin" is not "prolactinoma", "nephritic" not
# "nephrotic", "painless" not "painful". Words that differ in one are never spelling variants of each other.
_MEANINGFUL_SUFFIXES = ("oma", "itis", "itic", "osis", "otic", "emia", "uria", "ectomy", "otomy", "ostomy",
                        "plasty", "scopy", "graphy", "pathy", "algia", "penia", "cytosis", "trophy", "plasia",
                        "lysis", "genic", "less", "ful")
# Prefixes of opposite meaning that otherwise look like a small typo ("hypokalemia"/"hyperkalemia").
_OPPOSITE_PREFIXES = (("hypo", "hyper"), ("intra", "inter"), ("ante", "anti"), ("sub", "supra"),
                      ("pre", "pro"), ("dextro", "levo"))
# Inflection and derivation endings ignored when comparing two words ("perforator"/"perforating").
_ENDINGS = ("ations", "ation", "ing", "ed", "or", "er", "ion", "ive", "ic", "ous", "e", "y")


def _root(word: str) -> str:
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 5:
            return word[: -len(ending)]
    return word


def _opposite(a: str, b: str) -> bool:
    return any((a.startswith(p) and b.startswith(q)) or (a.startswith(q) and b.startswith(p))
               for p, q in _OPPOSITE_PREFIXES)


@lru_cache(maxsize=262144)
def same_token(a: str, b: str) -> bool:
    """Equal, or the same word spelt or inflected differently (typos included: "anthracus"/"anthracis").

    Numbers, short words and direction/polarity words must be equal: "5" is not "6", "left" is not "lateral".
    Long words must share their first two letters, must not differ in an opposite prefix (hypo-/hyper-) or
    a meaning-bearing suffix (-oma, -itis), and must be at least 85% alike.
    """
    if a == b:
        return True
    if a in CRITICAL or b in CRITICAL or not a.isalpha() or not b.isalpha():
        return False
    if any(a.endswith(s) != b.endswith(s) for s in _MEANINGFUL_SUFFIXES) or _opposite(a, b):
        return False
    if _root(a) == _root(b):
        return True
    if min(len(a), len(b)) < 6 or a[:2] != b[:2]:
        return False
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= 0.85


# Clause boundaries: sentence ends (not decimal points, but "2. Next item" is one), semicolons, colons, line
# breaks, list bullets, and the connectives that open a contrasting clause (kept at the start of the new clause
# so that its role can be read).
# A question mark stays with its clause: a reference mentioned in a question is asked about, not answered.
# A colon between digits is a ratio or a time ("1:06"); a dash between spaces (or an em dash) opens a new clause.
_SENTENCE_END = re.compile(r"(?<!\d)[.!](?=\s|$)|[.!](?=\s+[A-Z])|(?<=\?)\s+|(?:[;\n]|(?<!\d):|:(?!\d))+"
                           r"|\s\(?\d\)\s|\s[-*\u2022\u2013\u2014]\s|\s--\s|(?<=\w)\u2014(?=\w)")
_CONTRAST = re.compile(r",\s*(?=(?:but|whereas|while|although|though|however|yet|instead|rather)\b)", re.I)
# A clause opened by a concession ends at its first comma: "While X can help, Y is the choice" has two clauses.
_CONCESSION = re.compile(
    r"^\W*(?:while|although|though|even though|whereas|despite|unlike|apart from|aside from)\b[^,]*,", re.I)


def split_clauses(text: str) -> list[str]:
    """The clauses of ``text``, in order, stripped of list markers."""
    parts: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        for part in _CONTRAST.split(sentence):
            m = _CONCESSION.match(part)
            parts += [part[: m.end() - 1], part[m.end():]] if m else [part]
    return [p.strip(" \t*#-,") for p in parts if p and p.strip(" \t*#-,.")]


MENTION_RECALL = 0.8  # share of the reference's words that makes a window a mention of it
WINDOW_FACTOR = 2  # a window may spread the reference's n content words over 2n + 1 words


@dataclass(frozen=True)
class Form:
    """One way the reference may be written: its tokens, and words that must then appear elsewhere."""

    tokens: tuple[str, ...]
    requires: tuple[str, ...] = ()


def reference_forms(reference: str) -> list[Form]:
    """The reference itself; for "X (Y)" also X alone, with Y required somewhere; Y alone if it is X's acronym.

    "Transposition of the Great Arteries (TGA)" may be written either way. "Nitroglycerine (transdermal)" may be
    written "transdermal nitroglycerin", but "nitroglycerine" alone is not it (sublingual is another answer).
    """
    forms = [Form(tokens(reference))]
    m = re.fullmatch(r"\s*(.+?)\s*\(([^()]+)\)\s*\.?\s*", reference)
    if m:
        head, inner = m.group(1), m.group(2)
        initials = "".join(w[0] for w in re.findall(r"[A-Za-z]+", head) if w.lower() not in STOPWORDS)
        if inner.replace(" ", "").lower() == initials.lower():
            forms += [Form(tokens(head)), Form(tokens(inner))]
        else:
            forms.append(Form(tokens(head), tuple(content(tokens(inner)))))
    return [f for i, f in enumerate(forms) if f.tokens and f.tokens not in [g.tokens for g in forms[:i]]]


@dataclass(frozen=True)
class Mention:
    clause: int  # index into the answer's clauses
    start: int  # token span [start, end) inside that clause
    end: int
    score: float  # share of the reference's words found (1.0 when written out)
    exact: bool  # the reference (or one of its forms) written out as consecutive tokens


@dataclass(frozen=True)
class Located:
    clauses: list[str]
    clause_tokens: list[tuple[str, ...]]
    mentions: list[Mention]


def find_spans(hay: tuple[str, ...], needle: tuple[str, ...]) -> list[tuple[int, int]]:
    """Every place ``needle`` occurs in ``hay`` as consecutive tokens (tolerant token equality)."""
    n = len(needle)
    if n == 0 or n > len(hay):
        return []
    return [(i, i + n) for i in range(len(hay) - n + 1) if all(same_token(hay[i + k], needle[k]) for k in range(n))]


def locate(answer: str, reference: str, min_recall: float = MENTION_RECALL, factor: int = WINDOW_FACTOR) -> Located:
    """Every mention of the reference in ``answer``: written out, or (when it is not) most of its words close together.

    A close-together mention is a window of one clause holding at least ``min_recall`` of the reference's
    content words, in a span of at most ``factor`` * n + 1 content words (n: the reference's), keeping its
    direction/polarity words with what they qualify. Overlapping windows count once (the best).
    """
    clauses = split_clauses(answer)
    clause_tokens = [tokens(c) for c in clauses]
    mentions: list[Mention] = []
    for form in reference_forms(reference):
        if form.requires and bag_match(list(form.requires), content(tokens(answer))) < len(form.requires):
            continue
        for c, toks in enumerate(clause_tokens):
            mentions += [Mention(c, s, e, 1.0, True) for s, e in find_spans(toks, form.tokens)]
    if mentions:
        return Located(clauses, clause_tokens, _distinct(mentions))

    ref_tokens = tokens(reference)
    ref = content(ref_tokens) or list(ref_tokens)
    # "serum LH" is "LH levels": generic words count when present but are not needed.
    core = [t for t in ref if t not in _GENERIC] or ref
    pairs = critical_pairs(list(ref_tokens))
    order = critical_order(list(ref_tokens))
    for c, toks in enumerate(clause_tokens):
        positions = [i for i, t in enumerate(toks) if t not in STOPWORDS or t in CRITICAL]
        best: Mention | None = None
        for k in range(len(positions)):
            span = positions[k:k + factor * len(ref) + 1]
            window = [toks[i] for i in span]
            if not same_token_any(window[0], ref):
                continue
            recall = bag_match(core, content(window)) / len(core)
            if recall >= min_recall and pairs_present(pairs, order, window) and (best is None or recall > best.score):
                last = max(i for i in span if same_token_any(toks[i], ref))
                best = Mention(c, span[0], last + 1, recall, False)
        if best:
            mentions.append(best)
    return Located(clauses, clause_tokens, mentions)


def _distinct(mentions: list[Mention]) -> list[Mention]:
    """Mentions in order, one that starts right after another dropped: "Transposition of the great arteries (TGA)"
    is one mention, though the acronym expands to the reference again."""
    out: list[Mention] = []
    for m in sorted(mentions, key=lambda m: (m.clause, m.start)):
        if out and out[-1].clause == m.clause and m.start <= out[-1].end + 1:
            continue
        out.append(m)
    return out


def same_token_any(word: str, candidates: list[str]) -> bool:
    return any(same_token(word, c) for c in candidates)


def bag_match(ref: list[str], window: list[str]) -> int:
    """How many reference tokens find a distinct tolerant partner in ``window`` (order ignored)."""
    used = [False] * len(window)
    hits = 0
    for r in ref:
        for j, w in enumerate(window):
            if not used[j] and same_token(r, w):
                used[j] = True
                hits += 1
                break
    return hits


# Words too generic to be what a direction word qualifies ("increased serum LH": the LH, not the serum).
_GENERIC = frozenset({"serum", "plasma", "blood", "level", "concentration", "count", "value", "finding", "sign"})


def _is_head(word: str) -> bool:
    return word not in CRITICAL and not word[0].isdigit() and word not in _GENERIC


def critical_pairs(toks: list[str]) -> set[tuple[str, str]]:
    """Each direction/polarity word or number with the word it qualifies (next content word, else previous).

    "decreased estradiol, increased LH" gives {(decreased, estradiol), (increased, luteinizing)}: the same
    words in the other arrangement ("increased estradiol, decreased LH") give different pairs.
    """
    words = [t for t in toks if t not in STOPWORDS or t in CRITICAL]
    pairs = set()
    for i, t in enumerate(words):
        if t in CRITICAL or t[0].isdigit():
            after = [w for w in words[i + 1:] if _is_head(w)]
            before = [w for w in words[:i] if _is_head(w)]
            pairs.add((t, after[0] if after else (before[-1] if before else "")))
    return pairs


def critical_order(toks: list[str]) -> list[str]:
    """The reference's qualifiers in order, when two of them qualify the same word (then order tells them apart).

    "Vineet recorded an increase in MBP but Kamlesh a decrease in MBP" is not its mirror image.
    """
    pairs = critical_pairs(toks)
    heads = [h for _, h in pairs]
    if len(heads) == len(set(heads)):
        return []
    return [t for t in toks if t in CRITICAL]


def pairs_present(ref_pairs: set[tuple[str, str]], order: list[str], window: list[str]) -> bool:
    """The window keeps every (qualifier, head) pair of the reference, and the qualifiers' order when it matters."""
    have = critical_pairs(window)
    for q, h in ref_pairs:
        # A qualifier that qualifies nothing in the reference ("Bilateral", "23") only has to be there.
        if not any(q == wq and (not h or h == wh or (wh and same_token(h, wh))) for wq, wh in have):
            return False
    if order:
        seq = iter(t for t in window if t in CRITICAL)
        return all(any(t == w for w in seq) for t in order)
    return True
