"""Decontamination (64-char rule): spans found wherever they sit, 63 chars never enough, normalisation, non-ASCII,
degenerate inputs, and agreement with the naive substring search on a random corpus full of partial overlaps."""

from __future__ import annotations

import random

import numpy as np
import pytest

from medreason.curate import decontam
from medreason.curate.decontam import WINDOW, find_overlaps, naive_find_overlaps, shared_span

WORDS = ("the", "patient", "renal", "acute", "chest", "pain", "dose", "of", "a", "mg", "left", "fever", "with")


def random_text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def filler(n: int, seed: int) -> str:
    """n chars no other text here shares a window with (digits only)."""
    rng = random.Random(seed)
    return "".join(rng.choice("0123456789") for _ in range(n))


EVAL_TEXT = ("A 54-year-old woman presents with crushing substernal chest pain radiating to the left arm, "
             "diaphoresis and nausea for two hours; her ECG shows ST elevation in leads II, III and aVF.")


@pytest.mark.parametrize("offset", [0, 1, 31, 32, 33, 63, 64, 65, 100])
@pytest.mark.parametrize("eval_start", [0, 17, len(EVAL_TEXT) - WINDOW - 1])  # spans not starting with a space
def test_a_64_char_span_is_found_wherever_it_sits(offset, eval_start):
    span = EVAL_TEXT[eval_start:eval_start + WINDOW]
    for tail in (0, 1, 40):  # the span at the very end of the text, or not
        text = filler(offset, 1) + span + filler(tail, 2)
        others = [filler(200, 3), EVAL_TEXT, filler(90, 4)]
        assert find_overlaps([filler(150, 5), text], others).tolist() == [-1, 1]


@pytest.mark.parametrize("offset", [0, 31, 32, 33, 70])
def test_a_63_char_span_is_not_enough(offset):
    for start in (0, 40, len(EVAL_TEXT) - 63):
        text = filler(offset, 1) + EVAL_TEXT[start:start + 63] + filler(50, 2)
        assert find_overlaps([text], [EVAL_TEXT]).tolist() == [-1]
        assert naive_find_overlaps([text], [EVAL_TEXT]) == [-1]
        assert shared_span(text, EVAL_TEXT) is None
    # The same texts with one more shared character do match.
    text = filler(offset, 1) + EVAL_TEXT[40:104] + filler(50, 2)
    assert find_overlaps([text], [EVAL_TEXT]).tolist() == [0]


def test_spans_across_text_boundaries_do_not_count():
    """Texts are concatenated inside find_overlaps: a span made of one text's end and the next one's start is not
    shared, on either side."""
    halves = [EVAL_TEXT[:100], EVAL_TEXT[100:]]
    assert find_overlaps([EVAL_TEXT[60:140]], halves).tolist() == [-1]
    assert find_overlaps(halves, [EVAL_TEXT[60:140]]).tolist() == [-1, -1]
    assert find_overlaps([EVAL_TEXT[30:140]], halves).tolist() == [0]


def test_case_and_white_space_do_not_matter():
    span = EVAL_TEXT[30:110]
    messy = "  ".join(span.upper().split(" ")).replace("PAIN", "PAIN\n\t")
    assert find_overlaps([f"Q: {messy}?"], [EVAL_TEXT]).tolist() == [0]
    assert find_overlaps([EVAL_TEXT], [f"Q: {messy}?"]).tolist() == [0]
    assert shared_span(messy, EVAL_TEXT) == EVAL_TEXT[30:94].lower()


def test_non_ascii_texts():
    greek = "Ο ασθενής παρουσιάζει οξύ θωρακικό άλγος με αντανάκλαση στο αριστερό χέρι και εφίδρωση 🫀 μετά από άσκηση."
    cjk = "患者，男，54岁，胸骨后压榨性疼痛2小时，向左臂放射，伴大汗、恶心。心电图示II、III、aVF导联ST段抬高。诊断是什么？请给出最可能的诊断与依据，并说明下一步处理。"
    eval_texts = [greek, cjk]
    texts = [
        "Ερώτηση: " + greek[10:80] + " τέλος",                 # Greek, shared
        "病例：" + cjk[5:69] + "。",                            # CJK, exactly 64 chars shared
        "病例：" + cjk[5:68] + "。",                            # CJK, 63 chars: no
        "ﬁ" + greek[20:90].upper(),                            # NFKC ligature, upper-case Greek (sigma folds)
        "é" * 100,                                             # precomposed vs decomposed below
    ]
    eval_texts.append("e\u0301" * 100)
    assert find_overlaps(texts, eval_texts).tolist() == [0, 1, -1, 0, 2]
    assert naive_find_overlaps(texts, eval_texts) == [0, 1, -1, 0, 2]


def test_empty_and_short_texts_never_match():
    short = EVAL_TEXT[:WINDOW - 1]
    assert find_overlaps(["", " ", short, EVAL_TEXT], [EVAL_TEXT, short, ""]).tolist() == [-1, -1, -1, 0]
    assert find_overlaps([EVAL_TEXT], [short, ""]).tolist() == [-1]
    assert find_overlaps([], [EVAL_TEXT]).tolist() == []
    assert find_overlaps([], [EVAL_TEXT]).dtype == np.int64


def test_no_eval_texts():
    out = find_overlaps([EVAL_TEXT, "", "x" * 500], [])
    assert out.tolist() == [-1, -1, -1] and out.dtype == np.int64
    assert naive_find_overlaps([EVAL_TEXT], []) == [-1]


def random_corpus(seed: int, n_texts: int = 300, n_eval: int = 30) -> tuple[list[str], list[str]]:
    """A small vocabulary (so texts share short spans all the time) with planted spans of 50-90 chars."""
    rng = random.Random(seed)
    eval_texts = [random_text(rng, rng.randint(0, 80)) for _ in range(n_eval)]
    texts = []
    for _ in range(n_texts):
        text = random_text(rng, rng.randint(0, 60))
        if rng.random() < 0.3:
            source = rng.choice(eval_texts)
            start = rng.randint(0, max(0, len(source) - 50))
            span = source[start:start + rng.randint(50, 90)]
            if rng.random() < 0.5:
                span = span.upper().replace(" ", "  ")
            cut = rng.randint(0, len(text))
            text = text[:cut] + span + text[cut:]
        texts.append(text)
    return texts, eval_texts


def assert_agrees(texts, eval_texts, window=WINDOW, progress=False):
    fast = find_overlaps(texts, eval_texts, window=window, progress=progress)
    naive = naive_find_overlaps(texts, eval_texts, window=window)
    assert [i >= 0 for i in fast.tolist()] == [i >= 0 for i in naive]
    for text, i in zip(texts, fast.tolist()):
        if i >= 0:  # any matching eval text will do, but it must match
            assert shared_span(text, eval_texts[i], window) is not None
    return naive


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_the_naive_search(seed):
    texts, eval_texts = random_corpus(seed)
    naive = assert_agrees(texts, eval_texts, progress=seed == 0)
    hits = sum(i >= 0 for i in naive)
    assert 20 < hits < len(texts) - 20  # both outcomes well represented


@pytest.mark.parametrize("window", [1, 2, 5, 8, 33])
def test_other_windows(window):
    texts, eval_texts = random_corpus(3, n_texts=80, n_eval=10)
    eval_texts = [t + " dyspnoea" for t in eval_texts]  # letters absent from the texts: some never match
    assert_agrees(texts + ["zz", "dysp"], eval_texts, window=window)


def test_chunks_change_nothing(monkeypatch):
    texts, eval_texts = random_corpus(4)
    whole = find_overlaps(texts, eval_texts)
    monkeypatch.setattr(decontam, "CHUNK_CHARS", 500)
    assert list(decontam._chunks(texts, 500))[1][0] > 0  # really several chunks
    assert find_overlaps(texts, eval_texts).tolist() == whole.tolist()


def test_hash_collisions_are_confirmed_away(monkeypatch):
    """With a 6-bit hash nearly every lookup hits; only the confirmation on the text keeps the result exact."""
    real_hash, real_hash_all = decontam._Packed.hash, decontam._Packed.hash_all
    monkeypatch.setattr(decontam._Packed, "hash", lambda self, pos, length: real_hash(self, pos, length) % 64)
    monkeypatch.setattr(decontam._Packed, "hash_all", lambda self, length: real_hash_all(self, length) % 64)
    texts, eval_texts = random_corpus(5, n_texts=60, n_eval=10)
    naive = assert_agrees(texts, eval_texts)
    assert 0 < sum(i >= 0 for i in naive) < len(texts)


def test_shared_span():
    text = "Stem:" + EVAL_TEXT[20:120].upper()
    assert shared_span(text, EVAL_TEXT) == EVAL_TEXT[20:84].lower()
    assert shared_span(text, EVAL_TEXT, window=100) == EVAL_TEXT[20:120].lower()
    assert shared_span(text, EVAL_TEXT, window=101) is None
    assert shared_span("unrelated text " * 10, EVAL_TEXT) is None
    assert shared_span("", "") is None


def test_window_must_be_positive():
    with pytest.raises(ValueError):
        find_overlaps(["a"], ["a"], window=0)


def test_boilerplate_windows_shared_by_many_eval_texts_do_not_count():
    stem = "Which of the following is the most appropriate next step in management of this patient?"
    evals = [f"Case {n}: a {20 + n}-year-old with {w}. {stem}" for n, w in enumerate(
        ["fever", "rash", "cough", "syncope", "ataxia"])]
    train = [f"A 33-year-old with chest pain. {stem}",  # only the stem is shared
             f"Case 1: a 21-year-old with rash. {stem}"]  # a real copy of an eval question
    assert list(find_overlaps(train, evals)) != [-1, -1]  # the bare rule flags both
    out = find_overlaps(train, evals, boilerplate=3)
    assert out[0] == -1 and out[1] == 1
    # 5 eval + 2 training texts hold the stem: with a limit of 8 it still counts.
    assert find_overlaps(train, evals, boilerplate=8)[0] >= 0


def test_boilerplate_is_counted_over_training_texts_too():
    """A small eval set holds a stem once; many training texts hold it: still a stem, not contamination."""
    stem = "Which of the following is the most appropriate next step in management of this patient?"
    evals = [f"A 40-year-old with fever. {stem}", "An unrelated question about the anatomy of the brachial plexus?"]
    train = [f"A {20 + n}-year-old with symptom number {n}. {stem}" for n in range(6)]
    assert (find_overlaps(train, evals) == 0).all()
    assert (find_overlaps(train, evals, boilerplate=5) == -1).all()
    copy = [*train, f"A 40-year-old with fever. {stem}"]  # the real copy shares its opening with eval 0 alone
    assert find_overlaps(copy, evals, boilerplate=5)[-1] == 0
