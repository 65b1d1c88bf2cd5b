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


STEM = "Which of the following is the most appropriate next step in management of this patient?"
QUESTION = ("A 63-year-old woman with long-standing rheumatoid arthritis treated with methotrexate develops a dry "
            "cough and progressive dyspnea over three weeks; crackles are heard at both lung bases.")


def test_training_texts_never_count_toward_the_allowance():
    """A small eval set holds a stem once; many training texts hold it: under k distinct eval texts, so it counts
    like any window and every one is flagged (the bare rule; it errs toward dropping)."""
    evals = [f"A 40-year-old with fever. {STEM}", "An unrelated question about the anatomy of the brachial plexus?"]
    train = [f"A {20 + n}-year-old with symptom number {n}. {STEM}" for n in range(6)]
    assert find_overlaps(train, evals, boilerplate=5).tolist() == [0] * 6
    assert find_overlaps(train, evals, boilerplate=2).tolist() == [0] * 6  # the stem is in 1 distinct eval text
    assert find_overlaps(train, evals, boilerplate=1).tolist() == [-1] * 6  # k = 1: every eval window is a stem


@pytest.mark.parametrize("n_copies", [2, 4, 5, 8])
@pytest.mark.parametrize("boilerplate", [2, 5])
def test_every_near_copy_of_an_eval_question_in_the_training_pool_is_caught(n_copies, boilerplate):
    evals = ["An unrelated question about the anatomy of the brachial plexus and its cords?", QUESTION]
    variants = [f"Case {n}. {QUESTION if n % 2 else QUESTION.upper()} What is the most likely cause?"
                for n in range(n_copies)]
    train = [filler(120, 9), *variants, f"A 30-year-old with a rash. {STEM}"]
    assert find_overlaps(train, evals, boilerplate=boilerplate).tolist() == [-1] + [1] * n_copies + [-1]


@pytest.mark.parametrize("boilerplate", [2, 5])
def test_an_eval_question_repeated_in_the_eval_files_still_catches_its_copy(boilerplate):
    """Five copies of one question (exact, and differing only in case and white space) are one distinct text: its
    windows are in 1 eval text, not 5. The index given is the first occurrence."""
    repeats = [QUESTION, QUESTION, QUESTION.upper(), "  ".join(QUESTION.split(" ")), f"\n{QUESTION}\t"]
    evals = ["An unrelated question about the anatomy of the brachial plexus and its cords?", *repeats]
    train = [f"Case one. {QUESTION[5:130]} What is the most likely cause?", filler(100, 8)]
    assert find_overlaps(train, evals, boilerplate=boilerplate).tolist() == [1, -1]
    assert naive_find_overlaps(train, evals) == [1, -1]


def test_a_stem_needs_k_distinct_eval_questions():
    """Copies of an eval question do not make its stem boilerplate; k distinct questions holding it do."""
    cases = [f"Case {n}: a {20 + n}-year-old with {w}. {STEM}" for n, w in enumerate(
        ["fever", "rash", "cough", "syncope", "ataxia"])]
    vignette = [f"A 33-year-old man with crushing chest pain after a marathon. {STEM}"]
    four = [*cases[:4], cases[3], cases[3].upper()]  # 6 eval texts, 4 distinct
    assert find_overlaps(vignette, four, boilerplate=5)[0] in (0, 1, 2, 3)  # any case holding the stem, as given
    assert find_overlaps(vignette, [*four, cases[4]], boilerplate=5).tolist() == [-1]
    # A copy of one of those questions is still caught by its own, rarer, windows.
    assert find_overlaps([f"Q: {cases[2]}"], [*four, cases[4]], boilerplate=5).tolist() == [2]


def naive_allowance(texts, eval_texts, window, k):
    """The rule spelled out: windows of the distinct normalised eval texts, those in k or more of them dropped;
    a text matches the first eval text (first occurrence of its normalised form) holding a remaining window."""
    from collections import Counter

    from medreason.data.schema import normalise

    first = {}
    for i, t in enumerate(eval_texts):
        first.setdefault(normalise(t), i)
    windows = {s: {s[j:j + window] for j in range(len(s) - window + 1)} for s in first}
    count = Counter(w for ws in windows.values() for w in ws)
    out = []
    for t in texts:
        s = normalise(t)
        mine = {s[j:j + window] for j in range(len(s) - window + 1)}
        out.append(next((i for e, i in first.items() if any(count[w] < k for w in windows[e] & mine)), -1))
    return out


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("k", [2, 3, 6])
def test_the_allowance_agrees_with_the_rule_spelled_out(seed, k):
    """A small vocabulary and an 8-char window make common windows everywhere; the eval side repeats texts."""
    rng = random.Random(seed)
    texts, eval_texts = random_corpus(seed, n_texts=120, n_eval=15)
    eval_texts += [rng.choice(eval_texts).upper() for _ in range(10)] + eval_texts[:5]
    fast = find_overlaps(texts, eval_texts, window=8, boilerplate=k)
    naive = naive_allowance(texts, eval_texts, 8, k)
    assert [i >= 0 for i in fast.tolist()] == [i >= 0 for i in naive]
    assert 0 < sum(i >= 0 for i in naive) < len(texts)
    firsts = set(decontam.distinct(eval_texts))
    assert all(i in firsts for i in fast.tolist() if i >= 0)  # always a first occurrence


def test_distinct_keeps_first_occurrences():
    texts = ["Same  text.", "other", "same text.", "SAME TEXT.\n", "", "Other", " "]
    assert decontam.distinct(texts) == [0, 1, 4]
    assert decontam.distinct([]) == []


def split_problem(n: int, text: str) -> dict:
    """A problem the seed-0 split places in training (search or rl)."""
    from medreason.curate.split import place

    mcq_id = n + 10 ** 6
    while place(0, f"{mcq_id:016x}") < 0.1:
        mcq_id += 1000
    return {"id": f"{n:016x}", "mcq_id": f"{mcq_id:016x}", "question": text, "mcq_question": text,
            "ground_truth": "x"}


def test_the_split_names_the_first_benchmark_holding_a_repeated_question_and_counts_copies():
    from medreason.config import SplitConfig
    from medreason.curate.split import OWN_EVAL, split_problems

    gpqa_q = "Which enzyme deficiency causes " + filler(90, 11)
    medqa_q = QUESTION
    benchmarks = {
        "medqa_test": [medqa_q, "A short question?"],
        "gpqa": [gpqa_q] * 5 + [gpqa_q.upper()],                           # 6 texts, 1 distinct
        "huatuo_eval": [medqa_q.upper(), f" {gpqa_q} ", "Another short one?"],  # 2 copies of earlier texts
    }
    problems = [split_problem(0, f"Case one. {medqa_q}"), split_problem(1, f"Case two. {medqa_q}"),
                split_problem(2, f"Read this: {gpqa_q[:80]}"), split_problem(3, "another short one?"),
                split_problem(4, filler(150, 12))]
    result = split_problems(problems, SplitConfig(boilerplate=5), benchmarks)
    reasons = [a["reason"] for a in result.assignments]
    assert reasons == ["contaminated:medqa_test", "contaminated:medqa_test", "contaminated:gpqa",
                       "contaminated:huatuo_eval", None]
    report = result.report
    assert report["reference_questions"] == {"medqa_test": 2, "gpqa": 6, "huatuo_eval": 3, OWN_EVAL: 0}
    assert report["reference_duplicates"] == {"medqa_test": 0, "gpqa": 5, "huatuo_eval": 2, OWN_EVAL: 0}
    assert report["reference_distinct"] == 11 - 7 == 4
    assert report["contaminated"] == {"gpqa": 1, "huatuo_eval": 1, "medqa_test": 2}
