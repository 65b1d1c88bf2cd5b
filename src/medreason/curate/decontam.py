"""Decontamination by the Med-PaLM 2 rule: a training text is contaminated when it shares a span of ``WINDOW``
(64) consecutive characters with an evaluation text. Both are compared after ``normalise`` (NFKC, white space
collapsed to single spaces, case-folded); a text shorter than the window after normalisation never matches.

Algorithm (find_overlaps): polynomial rolling hashes of code points mod 2**64, vectorised in numpy.
1. The eval side is hashed at every position twice: all half-windows (k = ceil(w/2) chars) and all full windows.
2. A shared w-span always contains a whole training half-window that starts at a multiple of k in its text, so
   the training side looks up only those (1 position in k) among the eval half-windows.
3. The full windows around each hit are looked up among the eval full windows.
4. Each hash match is confirmed on the real substrings: a hash collision can never give a false positive.
The training side is processed in chunks of about ``CHUNK_CHARS`` characters, which bounds memory.

Repeated evaluation texts: the configured files repeat questions (the authors' GPQA file holds each one five
times; MedQA, MedMCQA, PubMedQA and MMLU-Pro questions are also inside eval_data.json). The eval texts are
deduplicated by their normalised form (``distinct``) before indexing, and a match is reported as the first
occurrence of the matched text in the caller's list, so a caller naming the benchmark names the first one (in the
caller's order) that holds it.

Boilerplate: exam stems repeat ("which of the following is the most appropriate next step in management?" is 72
characters), so under the bare rule every vignette that ends with one is "contaminated". With ``boilerplate`` = k,
a window found in k or more *distinct* eval texts is a stem, not evidence, and does not count (a real copy of an
eval question shares windows with that one question); 0 turns this off. Only the eval side is counted:
- Training texts never count toward k. Any number of near-copies of one eval question in the training pool are
  all caught: counting them would make k - 1 copies (or, with repeats on the eval side, every copy) a "stem".
- Copies on the eval side do not count either: a question repeated five times is one distinct text. Variants
  that differ after normalisation (an added sentence, other punctuation) still count separately, so k should
  exceed the number of configured files one question can be in (two today, under the default k = 5).
- A stem the training pool holds many times but the eval side in fewer than k distinct texts counts like any
  other window: every training text holding it is flagged, naming one of those eval texts. That is the bare
  Med-PaLM 2 rule for that window, and errs toward dropping training items, never toward keeping a copy. With the
  real benchmarks (thousands of questions from the same exams) a phrase common enough to be a stem is in far more
  than k of them; a phrase in fewer cannot be told from those questions' own text by counting. Each drop keeps
  its shared span (split: ``detail``), so a stem dropping many items shows as one span repeated.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from medreason.data.schema import normalise

WINDOW = 64
CHUNK_CHARS = 1 << 20  # training characters hashed at once (~30 bytes each); larger is no faster

_BASE = 0x9E3779B97F4A7C15  # odd, so invertible mod 2**64
_BASE_INV = pow(_BASE, -1, 1 << 64)


def find_overlaps(texts: Sequence[str], eval_texts: Sequence[str], window: int = WINDOW,
                  progress: bool = False, boilerplate: int = 0) -> np.ndarray:
    """int64 array, one per text: the index of an eval text sharing a `window`-char span with it (after
    normalise), or -1. The index is the first occurrence in ``eval_texts`` of the matched (normalised) text; when
    several distinct eval texts match, any one of them is given. Texts (either side) shorter than `window` after
    normalisation never match. Windows in ``boilerplate`` or more distinct eval texts do not count (0: all count);
    training texts are never counted (module docstring)."""
    from tqdm import tqdm

    _check(window)
    out = np.full(len(texts), -1, dtype=np.int64)
    first = distinct(eval_texts)
    index = _EvalIndex([eval_texts[i] for i in first], window, _Powers())
    if boilerplate > 0 and index.n_windows:
        index.drop_common(boilerplate)
    to_input = np.append(np.asarray(first, dtype=np.int64), -1)  # distinct index -> eval_texts index; -1 -> -1
    with tqdm(total=len(texts), desc="decontam", unit="text", disable=not progress, mininterval=1.0) as bar:
        for start, chunk in _chunks(texts, CHUNK_CHARS):
            if index.n_windows:
                out[start:start + len(chunk)] = to_input[index.match(chunk)]
            bar.update(len(chunk))
    return out


def distinct(texts: Sequence[str]) -> list[int]:
    """The index of the first occurrence of each distinct normalised text, in order: ``len(texts)`` minus its
    length is the number of copies (texts equal, after normalise, to an earlier one)."""
    seen: dict[str, int] = {}
    for i, text in enumerate(texts):
        seen.setdefault(normalise(text), i)
    return list(seen.values())


def shared_span(text: str, eval_text: str, window: int = WINDOW) -> str | None:
    """The first normalised `window`-char span of `text` that `eval_text` also holds, or None (plain Python;
    explains a match in reports)."""
    _check(window)
    a, b = normalise(text), normalise(eval_text)
    spans = {b[j:j + window] for j in range(len(b) - window + 1)}
    return next((a[i:i + window] for i in range(len(a) - window + 1) if a[i:i + window] in spans), None)


def naive_find_overlaps(texts: Sequence[str], eval_texts: Sequence[str], window: int = WINDOW) -> list[int]:
    """The baseline: for each text, Python substring search of every eval window (`w in text`); the first eval
    index that matches, or -1. Slow on purpose: the oracle of the tests and the benchmark's reference."""
    _check(window)
    windows = []
    for e in eval_texts:
        s = normalise(e)
        windows.append([s[j:j + window] for j in range(len(s) - window + 1)])
    out = []
    for t in texts:
        s = normalise(t)
        out.append(next((e for e, ws in enumerate(windows) if any(w in s for w in ws)), -1))
    return out


def _check(window: int) -> None:
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")


class _Powers:
    """BASE**i and BASE**-i mod 2**64 for i < n (uint64 arithmetic wraps), grown on demand and reused."""

    def __init__(self) -> None:
        self.fwd = self.inv = np.ones(1, dtype=np.uint64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        if n > len(self.fwd):
            n = max(n, 2 * len(self.fwd))
            self.fwd, self.inv = _power_table(_BASE, n), _power_table(_BASE_INV, n)
        return self.fwd, self.inv


def _power_table(base: int, n: int) -> np.ndarray:
    table = np.full(n, base, dtype=np.uint64)
    table[0] = 1
    return np.cumprod(table, out=table)


class _Packed:
    """Texts normalised and concatenated; hash(pos, length) is the polynomial hash of any substring.

    prefix[i] = sum_{j<i} c[j] * B**-j, so (prefix[p+L] - prefix[p]) * B**(p+L-1) = sum c[j] * B**(p+L-1-j):
    the same value wherever the substring stands."""

    def __init__(self, texts: Sequence[str], powers: _Powers) -> None:
        self.texts = [normalise(t) for t in texts]
        self.lens = np.fromiter(map(len, self.texts), dtype=np.int64, count=len(self.texts))
        self.starts = np.zeros(len(self.lens) + 1, dtype=np.int64)  # offsets; starts[-1] is the total
        np.cumsum(self.lens, out=self.starts[1:])
        codes = np.frombuffer("".join(self.texts).encode("utf-32-le"), dtype=np.uint32)
        self.n = n = len(codes)
        self.fwd, inv = powers.get(n + 1)
        # In place: every large temporary costs page faults, which dominate at this size.
        self.prefix = np.empty(n + 1, dtype=np.uint64)
        self.prefix[0] = 0
        np.multiply(codes, inv[:n], out=self.prefix[1:])
        np.cumsum(self.prefix[1:], out=self.prefix[1:])

    def hash(self, pos: np.ndarray, length: int) -> np.ndarray:
        return (self.prefix[pos + length] - self.prefix[pos]) * self.fwd[pos + length - 1]

    def hash_all(self, length: int) -> np.ndarray:
        """hash(p, length) for every p in [0, n - length], boundaries crossed or not (slices, no gathers)."""
        count = max(0, self.n - length + 1)
        h = self.prefix[length:length + count] - self.prefix[:count]
        h *= self.fwd[length - 1:length - 1 + count]
        return h

    def inside(self, length: int, min_len: int = 0) -> np.ndarray:
        """For every p in [0, n - length]: does [p, p + length) lie in one text, of at least min_len chars?"""
        count = max(0, self.n - length + 1)
        # Texts begun at or before each position; a window stays in one text iff the count does not change.
        begun = np.zeros(self.n + 1, dtype=np.int32)
        np.add.at(begun, self.starts[1:-1], 1)
        np.cumsum(begun, out=begun)
        ok = begun[:count] == begun[length - 1:length - 1 + count]
        if min_len > length:
            ok &= np.repeat(self.lens >= min_len, self.lens)[:count]
        return ok

    def text_of(self, pos: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.starts, pos, side="right") - 1

    def window_starts(self, length: int, step: int, min_len: int) -> np.ndarray:
        """Positions start + i*step (i >= 0) whose `length` chars stay in one text of at least min_len."""
        lo, hi = self.starts[:-1], self.starts[1:] - length + 1
        hi = np.where(self.lens >= max(min_len, length), hi, lo)
        return _ranges(lo, hi, step)


def _ranges(lo: np.ndarray, hi: np.ndarray, step: int = 1) -> np.ndarray:
    """np.concatenate([np.arange(l, h, step) for l, h in zip(lo, hi)]) without the Python loop."""
    counts = np.maximum(0, (hi - lo + step - 1) // step)
    offsets = np.arange(counts.sum(), dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    return np.repeat(lo, counts) + offsets * step


class _EvalIndex:
    """The eval texts hashed at every position: half-windows (membership only) and full windows (sorted, with
    their positions, to find the eval text and confirm the match)."""

    def __init__(self, eval_texts: Sequence[str], window: int, powers: _Powers) -> None:
        self.window, self.half = window, (window + 1) // 2
        self.powers = powers
        self.packed = ev = _Packed(eval_texts, powers)
        # Half-windows only from texts long enough to hold a full window: the others can never match.
        self.half_hashes = _sorted_unique(ev.hash_all(self.half)[ev.inside(self.half, min_len=window)])
        full_pos = np.flatnonzero(ev.inside(window))
        full = ev.hash_all(window)[full_pos]
        order = np.argsort(full)
        self.full_hashes, self.full_pos = full[order], full_pos[order]
        self.n_windows = len(self.full_hashes)

    def drop_common(self, limit: int) -> None:
        """Forget the windows found in ``limit`` or more distinct eval texts (the texts are distinct already)."""
        keep = _rare(self.full_hashes, self.packed.text_of(self.full_pos), limit)
        self.full_hashes, self.full_pos = self.full_hashes[keep], self.full_pos[keep]
        self.n_windows = len(self.full_hashes)

    def match(self, texts: list[str]) -> np.ndarray:
        """For each text, a confirmed matching eval index or -1."""
        out = np.full(len(texts), -1, dtype=np.int64)
        tr = _Packed(texts, self.powers)
        cand, at = self._candidates(tr)
        # 3. Confirm on the real text: a text's first candidate almost always holds; the others are tried only
        #    after a hash collision.
        ids = tr.text_of(cand)  # sorted, as cand is
        first = np.flatnonzero(np.diff(ids, prepend=-1))
        last = np.append(first[1:], len(cand))
        ids = ids[first]
        cand, at = cand.tolist(), at.tolist()
        for i, a, b in zip(ids.tolist(), first.tolist(), last.tolist()):
            for p, j in zip(cand[a:b], at[a:b]):
                out[i] = self._confirm(tr.texts[i], p - int(tr.starts[i]), j)
                if out[i] >= 0:
                    break
        return out

    def _candidates(self, tr: _Packed) -> tuple[np.ndarray, np.ndarray]:
        """Sorted training positions whose full window hashes like an eval window, and where that hash is."""
        w, k = self.window, self.half
        # 1. Half-windows at multiples of k: any shared w-span holds one of them whole.
        stride = tr.window_starts(k, step=k, min_len=w)
        hits = stride[_search(self.half_hashes, tr.hash(stride, k))[1]]
        if not hits.size:
            return hits, hits
        # 2. Every full window holding a hit whole: starts in [hit - (w - k), hit], inside the hit's text.
        #    lo and hi grow with the (sorted) hits, so clipping each range at the previous one's end leaves the
        #    candidates sorted and unique.
        t = tr.text_of(hits)
        lo = np.maximum(hits - (w - k), tr.starts[t])
        hi = np.minimum(hits, tr.starts[t + 1] - w) + 1
        lo[1:] = np.maximum(lo[1:], hi[:-1])
        cand = _ranges(lo, hi)
        at, found = _search(self.full_hashes, tr.hash(cand, w))
        return cand[found], at[found]

    def _confirm(self, text: str, offset: int, j: int) -> int:
        """The eval text whose window equals text[offset:offset+w], among eval windows j.. of the same hash."""
        span = text[offset:offset + self.window]
        ev = self.packed
        h = self.full_hashes[j]
        while j < self.n_windows and self.full_hashes[j] == h:
            q = int(self.full_pos[j])
            e = int(ev.text_of(q))
            start = q - int(ev.starts[e])
            if ev.texts[e][start:start + self.window] == span:
                return e
            j += 1  # a hash collision: try the next eval window with this hash
        return -1


def _search(sorted_values: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each value: the index of its first occurrence in the sorted array, and whether it occurs at all."""
    at = np.zeros(len(values), dtype=np.int64)
    found = np.zeros(len(values), dtype=bool)
    if not sorted_values.size:
        return at, found
    order = np.argsort(values)  # sorted queries search several times faster (memory locality)
    queries = values[order]
    at[order] = np.minimum(np.searchsorted(sorted_values, queries), len(sorted_values) - 1)
    found[order] = sorted_values[at[order]] == queries
    return at, found


def _rare(hashes: np.ndarray, owners: np.ndarray, limit: int) -> np.ndarray:
    """Mask over ``hashes``: True where the hash occurs with fewer than ``limit`` distinct owners."""
    order = np.lexsort((owners, hashes))  # by hash, then owner
    h, o = hashes[order], owners[order]
    new_hash = np.diff(h, prepend=h[:1] - 1) != 0
    new_pair = new_hash | (np.diff(o, prepend=o[:1] - 1) != 0)
    group = np.cumsum(new_hash) - 1
    distinct = np.bincount(group, weights=new_pair)
    keep = np.empty(len(hashes), dtype=bool)
    keep[order] = distinct[group] < limit
    return keep


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """np.unique without its hash-table path, which is ~15x slower than a sort on 4M uint64 (numpy 2.4)."""
    values = np.sort(values)
    return values[np.diff(values, prepend=values[:1] - 1) != 0] if values.size else values


def _chunks(texts: Sequence[str], budget: int) -> Iterator[tuple[int, list[str]]]:
    """(index of the first text, texts) in runs of about `budget` characters (at least one text each)."""
    chunk: list[str] = []
    size = first = 0
    for n, text in enumerate(texts):
        chunk.append(text)
        size += len(text)
        if size >= budget:
            yield first, chunk
            chunk, size, first = [], 0, n + 1
    if chunk:
        yield first, chunk
