"""Curation: the difficulty answerers, the funnel of curate(), the LLM path against the loopback server, the split."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from medreason.config import AnswererConfig, CurateConfig, LLMConfig, SplitConfig, build
from medreason.curate.difficulty import answer_all, parse_letter
from medreason.curate.problems import STEPS, curate, parse_filter_verdict, parse_rewrite
from medreason.curate.split import OWN_EVAL, place, split_problems
from medreason.data.frames import read_rows, write_rows
from medreason.llm.client import LLMClient
from medreason.llm.loopback import LoopbackServer
from medreason.prompts import identify
from conftest import ROOT

OPTS = {"A": "Hyperkalemia", "B": "Hyponatremia", "C": "Hypercalcemia", "D": "Hypokalemia"}
VIGNETTE = ("A 54-year-old man with chronic kidney disease presents with weakness. An ECG shows peaked T waves and "
            "a widened QRS complex. Which of the following is the most likely electrolyte disturbance?")


def mcq(n: int, question: str = VIGNETTE, answer_idx: str = "A", **kw) -> dict:
    return {"id": f"{n:016x}", "source": "medqa", "question": question, "options": dict(OPTS),
            "answer_idx": answer_idx, "answer": OPTS[answer_idx], "choice_type": None, "subject": None,
            "open_question": None, "ground_truth": None, **kw}


def openai_cfg(srv: LoopbackServer, **kw) -> LLMConfig:
    return LLMConfig(backend="openai", model="teacher", base_url=srv.base_url, max_retries=1, timeout_s=5, **kw)


# ---- parsing ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("reply, label", [
    ("Pass", "Pass"), ("Verdict: Too Simple\nReason: one fact.", "Too Simple"), ("ambiguous answer", "Ambiguous Answer"),
    ("Verdict: Not Reformulatable", "Not Reformulatable"), ("It should pass", None), ("Pass or Too Simple", None),
    ("Verdict: Passes", None), ("", None),
])
def test_verdicts_are_parsed_strictly(reply, label):
    value, why = parse_filter_verdict(reply)
    assert (value[0] if value else None) == label
    assert (why is None) == (label is not None)


@pytest.mark.parametrize("reply, ok", [
    ('{"question": "What is the most likely electrolyte disturbance?", "ground_truth": "Hyperkalemia"}', True),
    ('```json\n{"question": "What is the most likely disturbance?", "ground_truth": "Hyperkalemia"}\n```', True),
    ('Sure! {"question": "What is it?", "ground_truth": "Hyperkalemia"}', False),  # prose around: not the object
    ('{"question": "What is it?"}', False),
    ('{"question": "What is it?", "ground_truth": "Hyperkalemia", "extra": 1}', False),
    ('{"question": "What is it?", "ground_truth": ""}', False),
    ('{"question": "Which is it: A. Hyperkalemia B. Hyponatremia?", "ground_truth": "Hyperkalemia"}', False),
    ('{"question": "What is it?", "ground_truth": "' + " ".join(["word"] * 13) + '"}', False),
    ('{"question": "What is it?", "ground_truth": "B"}', False),                 # a bare letter
    ('{"question": "What is it?", "ground_truth": "All of the above"}', False),
    ('{"question": "What is it?", "ground_truth": "Both A and B"}', False),
    ('{"question": "What is it?", "ground_truth": "hyponatremia"}', False),      # a wrong option's text
])
def test_rewrites_are_validated(reply, ok):
    value, why = parse_rewrite(reply, OPTS, "A", max_answer_words=12)
    assert (value is not None) == ok and (why is None) == ok


def test_parse_letter_takes_only_a_committed_letter_of_the_question():
    assert parse_letter("B", "ABCD") == "B"
    assert parse_letter("(c).", "ABCD") == "C"
    assert parse_letter("The answer is D because of the ECG.", "ABCD") == "D"
    assert parse_letter("Answer: B", "ABCD") == "B" and parse_letter("FINAL ANSWER: (C)", "ABCD") == "C"
    assert parse_letter("E", "ABCD") is None  # not an option of this question
    assert parse_letter("I think hyperkalemia", "ABCD") is None


# ---- curate(): the rule path -------------------------------------------------------------------------------------
def test_every_mcq_leaves_at_one_step_or_becomes_a_problem():
    rows = [
        mcq(0),                                                                   # kept
        mcq(1, question="Short?"),                                                # too short
        mcq(2, question=VIGNETTE.replace("54", "61")),                            # too easy: both answerers right
        mcq(3, question="All of the following cause hyperkalemia EXCEPT:", answer_idx="D"),  # rule
        mcq(4, question=VIGNETTE.replace("54", "47"), choice_type="multi"),       # rule (multi-answer)
        mcq(5),                                                                   # the same problem as 0 ...
    ]
    rows[5]["options"] = {**OPTS, "E": "Hypomagnesemia"}  # ... from another MCQ (an extra option)
    preds = {"m1": ["B", "A", "A", "A", "B", "B"], "m2": ["A", "A", "A", "D", "B", "C"]}
    cfg = CurateConfig(answerers=(AnswererConfig("m1", model="x"), AnswererConfig("m2", model="x")),
                       min_question_chars=30)
    result = curate(rows, preds, cfg)

    fate = {e["mcq_id"][-1]: (e["dropped_at"], e["reason"]) for e in result.ledger}
    assert fate["1"] == ("length", "too_short")
    assert fate["2"] == ("difficulty", "too_easy")
    assert fate["3"][0] == "rules" and fate["4"] == ("rules", "multi_answer")
    assert fate["0"] == (None, None)
    assert fate["5"] == ("dedup", "duplicate_problem")
    report = result.report
    assert report["in"] == 6 == report["kept"] + report["dropped"]
    assert [s["step"] for s in report["funnel"]] == list(STEPS)
    for before, after in zip(report["funnel"], report["funnel"][1:]):
        assert after["in"] == before["out"]
        assert before["in"] - before["out"] == sum(before["dropped"].values())
    (p,) = [p for p in result.problems if p["mcq_id"] == rows[0]["id"]]
    assert p["ground_truth"] == "Hyperkalemia" and p["method"] == "rule"
    assert "of the following" not in p["question"] and p["question"].startswith("A 54-year-old man")
    assert p["options"] == OPTS and p["answer_idx"] == "A"  # the MCQ form travels along for the eval split


def test_a_source_that_brings_its_open_question_keeps_it():
    row = mcq(0, open_question="A patient with CKD has peaked T waves. What electrolyte disturbance is present?",
              ground_truth="Hyperkalemia")
    result = curate([row], {}, CurateConfig())
    assert result.problems[0]["method"] == "source"
    assert result.problems[0]["question"] == row["open_question"]


def test_llm_steps_need_the_teacher():
    with pytest.raises(ValueError, match="teacher"):
        curate([mcq(0)], {}, CurateConfig(llm_filter=True))


def test_missing_predictions_are_an_error():
    cfg = CurateConfig(answerers=(AnswererConfig("m1", model="x"),))
    with pytest.raises(ValueError, match="difficulty"):
        curate([mcq(0)], {}, cfg)


# ---- curate(): the LLM path against the loopback OpenAI-compatible server -----------------------------------------
def test_llm_path_accounts_for_every_item(tmp_path):
    """Scripted teacher: each MCQ's number (in its question) picks the verdict and the rewrite it gets."""
    good = lambda n: json.dumps({"question": f"Case {n}: what electrolyte disturbance is most likely?",  # noqa: E731
                                 "ground_truth": "Hyperkalemia"})
    plan = {
        # n: (filter replies, rewrite replies)
        0: (["Verdict: Pass\nReason: needs ECG reasoning."], [good(0)]),
        1: (["Too Simple"], []),
        2: (["Verdict: Ambiguous Answer\nReason: two options defensible."], []),
        3: (["Not Reformulatable"], []),
        4: (["I would say it passes", "Pass"], [good(4)]),                    # re-asked once, then Pass
        5: (["maybe", "still maybe"], []),                                    # never a verdict
        6: (["Pass"], ["not json", good(6)]),                                 # invalid JSON, then valid
        7: (["Pass"], ['{"question": "Pick one: A. Hyperkalemia or B. Hyponatremia?", "ground_truth": "Hyperkalemia"}',
                       '{"question": "Still: (A) or (B)?", "ground_truth": "Hyperkalemia"}']),  # leaks twice
        8: (["Pass"], ['{"ground_truth": "Hyperkalemia"}', "[]"]),            # schema broken twice
    }
    rows = [mcq(n, question=f"Case {n}. " + VIGNETTE) for n in plan]

    def script(messages):
        first = messages[0]["content"]
        n = int(first.split("Case ", 1)[1].split(".", 1)[0])
        asks = (len(messages) + 1) // 2  # user, (assistant, user)*
        filter_replies, rewrite_replies = plan[n]
        replies = {"curate_filter": filter_replies, "reformulate": rewrite_replies}[identify(first)]
        return replies[asks - 1]

    with LoopbackServer(script=script) as srv:
        teacher = LLMClient(openai_cfg(srv), tmp_path / "teacher.sqlite")
        result = curate(rows, {}, CurateConfig(llm_filter=True, reformulate="llm", max_asks=2), teacher)

    fate = {int(e["mcq_id"], 16): e for e in result.ledger}
    assert {n for n, e in fate.items() if e["dropped_at"] is None} == {0, 4, 6}
    assert fate[1]["reason"] == "too_simple" and fate[2]["reason"] == "ambiguous_answer"
    assert fate[3]["reason"] == "not_reformulatable" and fate[2]["verdict_reason"] == "two options defensible."
    assert fate[5]["reason"] == "verdict_unreadable" and "still maybe" in fate[5]["detail"]
    assert fate[7]["reason"] == "rewrite_invalid" and "options" in fate[7]["detail"]
    assert fate[8]["reason"] == "rewrite_invalid"
    assert all(p["method"] == "llm" and p["verdict"] == "Pass" for p in result.problems)
    assert result.report["in"] == len(plan) == result.report["kept"] + result.report["dropped"]
    assert teacher.report()["failures"] == 0 and teacher.report()["answered"] == 9 + 2 + 5 + 3
    # The re-asks are new turns of the same conversation: one request per ask, none repeated.
    assert max(srv.received.values()) == 1


def test_llm_request_failures_are_recorded_not_lost(tmp_path):
    with LoopbackServer(fault_rate=1.0, faults=("500",)) as srv:
        teacher = LLMClient(openai_cfg(srv, backoff_s=0.001), tmp_path / "teacher.sqlite")
        result = curate([mcq(0), mcq(1, question="Case 1. " + VIGNETTE)], {}, CurateConfig(llm_filter=True), teacher)
    assert [e["reason"] for e in result.ledger] == ["llm_request_failed"] * 2
    assert "http 500" in result.ledger[0]["detail"]


# ---- difficulty answerers ----------------------------------------------------------------------------------------
def test_generate_answerer_parses_letters_through_the_client(tmp_path):
    replies = {"0": "A", "1": "The answer is C.", "2": "no idea"}

    def script(messages):
        return replies[messages[0]["content"].split("Case ", 1)[1][0]]

    items = [mcq(n, question=f"Case {n}. " + VIGNETTE) for n in range(3)]
    with LoopbackServer(script=script) as srv:
        answerer = AnswererConfig("served", method="generate", llm=openai_cfg(srv))
        letters, usage = answer_all(answerer, items, tmp_path)
    assert letters == ["A", "C", None]
    assert usage["unparsed"] == 1 and usage["failures"] == 0


def test_generate_answerer_fails_loudly_when_requests_fail(tmp_path):
    """A missing answer must not pass for a wrong one (it would quietly keep too-easy questions)."""
    with LoopbackServer(fault_rate=1.0, faults=("500",)) as srv:
        answerer = AnswererConfig("served", method="generate", llm=openai_cfg(srv, backoff_s=0.001))
        with pytest.raises(RuntimeError, match="2 of 2 requests failed.*http 500.*run again"):
            answer_all(answerer, [mcq(0), mcq(1, question="Case 1. " + VIGNETTE)], tmp_path)


@pytest.mark.slow
def test_loglik_answerer_scores_letters_and_resumes_from_its_cache(base_model, tmp_path):
    items = [mcq(n, question=f"Case {n}. " + VIGNETTE) for n in range(3)]
    items[2]["options"] = {"A": "Yes", "B": "No"}
    answerer = AnswererConfig("base", model=str(base_model), batch_size=2)
    letters, usage = answer_all(answerer, items, tmp_path)
    assert letters[0] in "ABCD" and letters[1] in "ABCD" and letters[2] in "AB"
    assert usage["scored"] == 3
    again, usage = answer_all(answerer, items, tmp_path)
    assert again == letters and usage["scored"] == 0 and usage["cache_hits"] == 3


# ---- split ----------------------------------------------------------------------------------------------------------
WORDS = ("fever rash cough dyspnea anemia sepsis murmur edema ascites jaundice ataxia tremor aphasia syncope "
         "angina emesis pruritus hematuria oliguria myalgia").split()


def problem(n: int, text: str | None = None) -> dict:
    """A problem whose text shares no 64 characters with another's (random words, seeded by n)."""
    import random

    rng = random.Random(n)
    q = text or " ".join(rng.choice(WORDS) for _ in range(12)) + "?"
    return {"id": f"{n:016x}", "mcq_id": f"{n + 10**6:016x}", "question": q, "mcq_question": q,
            "ground_truth": "x"}


def test_split_is_seeded_disjoint_and_stable_when_items_are_added():
    cfg = SplitConfig(seed=3)
    first = split_problems([problem(n) for n in range(300)], cfg, {})
    where = {a["id"]: a["split"] for a in first.assignments}
    counts = {s: len(v) for s, v in first.splits.items()}
    assert 100 < counts["search"] < 170 and 100 < counts["rl"] < 170 and 10 < counts["eval"] < 50
    more = split_problems([problem(n) for n in range(1000)], cfg, {})
    assert all(where[a["id"]] == a["split"] for a in more.assignments if a["id"] in where)
    reseeded = split_problems([problem(n) for n in range(300)], replace(cfg, seed=4), {})
    assert sum(where[a["id"]] != a["split"] for a in reseeded.assignments) > 50


def test_caps_keep_the_lowest_places():
    cfg = SplitConfig(max_sizes={"search": 20})
    result = split_problems([problem(n) for n in range(200)], cfg, {})
    assert len(result.splits["search"]) == 20
    kept = max(place(0, p["mcq_id"]) for p in result.splits["search"])
    over = [a for a in result.assignments if a["status"] == "over_cap"]
    assert over and all(a["split"] == "search" and a["u"] > kept for a in over)
    assert result.report["over_cap"]["search"] == len(over)


def test_decontamination_drops_train_items_sharing_64_characters_with_evaluation_questions():
    shared = "peaked t waves and a widened qrs complex after starting lisinopril and spironolactone"
    problems = [problem(n) for n in range(60)]
    problems[1] = problem(1, f"A man of 70 presents with {shared.upper()}. What is the cause?")
    problems[2] = problem(2, f"A man of 70 presents with-{shared[:63]}!")  # 63 characters: not contaminated
    result = split_problems(problems, SplitConfig(), {"medqa_test": [f"Her ECG shows {shared} today."]})
    fate = {a["id"]: a for a in result.assignments}
    assert fate[problems[1]["id"]]["split"] != "eval"  # (seed 0 places it in training)
    assert fate[problems[1]["id"]]["reason"] == "contaminated:medqa_test"
    assert fate[problems[1]["id"]]["detail"].strip() in shared
    assert fate[problems[2]["id"]]["status"] == "kept"
    # A short question (under the window) is caught when identical to an evaluation question.
    short = [problem(n) for n in range(60)]
    short[1] = problem(1, "Drug of choice for  absence seizures?")
    result = split_problems(short, SplitConfig(), {"medmcqa_dev": ["Drug of choice for absence seizures?"]})
    (a,) = [a for a in result.assignments if a["id"] == short[1]["id"]]
    assert a["reason"] == "contaminated:medmcqa_dev" and a["detail"] == "identical question"
    # Our own eval split is a reference too: a train copy of an eval MCQ is dropped.
    eval_p = next(p for p, a in zip(problems, result.assignments) if a["split"] == "eval")
    clone = {**eval_p, "id": "f" * 16, "mcq_id": "e" * 16}
    while place(0, clone["mcq_id"]) < 0.1:  # make sure the clone lands in search or rl
        clone["mcq_id"] = clone["mcq_id"][:-1] + "d"
    again = split_problems([*problems, clone], SplitConfig(), {})
    (a,) = [a for a in again.assignments if a["id"] == clone["id"]]
    assert a["reason"] == f"contaminated:{OWN_EVAL}"
    total = again.report
    assert sum(total["kept"].values()) + sum(total["contaminated"].values()) == len(problems) + 1


def test_near_copies_of_an_evaluation_question_are_not_mistaken_for_boilerplate():
    """Each problem brings two texts (MCQ and open question); they count once, so two copies stay evidence."""
    question = ("A 63-year-old woman with long-standing rheumatoid arthritis treated with methotrexate develops "
                "a dry cough and progressive dyspnea over three weeks; crackles are heard at both bases")
    problems = [problem(n) for n in range(40)]
    for n, prefix in ((1, "Case one."), (3, "Case two.")):
        problems[n] = problem(n, f"{prefix} {question}. What is the most likely cause?")
    result = split_problems(problems, SplitConfig(boilerplate=5), {"medqa_test": [question + ". Next step?"]})
    fate = {a["id"]: a for a in result.assignments}
    for n in (1, 3):
        assert fate[problems[n]["id"]]["split"] != "eval"  # (seed 0 places them in training)
        assert fate[problems[n]["id"]]["reason"] == "contaminated:medqa_test"


def test_rows_keep_options_as_a_map_through_parquet(tmp_path):
    write_rows([mcq(0)], tmp_path / "p.parquet")
    (back,) = read_rows(tmp_path / "p.parquet")
    assert back["options"] == OPTS and back["choice_type"] is None


def test_the_paper_recipe_validates():
    import yaml

    from medreason.config import Params
    from medreason.recipes import apply_recipe

    base = yaml.safe_load((ROOT / "params.yaml").read_text())
    params = build(Params, apply_recipe(base, ROOT / "configs" / "paper.yaml"))
    assert params.curate.llm_filter and params.curate.reformulate == "llm"
    assert [a.method for a in params.curate.answerers] == ["generate"] * 3
    assert params.llm.teacher.backend == "openai" and params.llm.teacher.api_key_env
    assert (params.search.max_attempts, params.search.max_depth, params.search.label_hint) == (3, 3, False)
    released = build(Params, apply_recipe(apply_recipe(base, ROOT / "configs" / "paper.yaml"),
                                          ROOT / "configs" / "released.yaml"))
    assert (released.search.max_attempts, released.search.max_depth, released.search.label_hint) == (1, 2, True)


def test_applying_a_recipe_keeps_comments_and_refuses_invalid_results(tmp_path):
    from medreason.config import ConfigError
    from medreason.recipes import main

    params = tmp_path / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text())
    main([str(ROOT / "configs" / "paper.yaml"), "--params", str(params)])
    text = params.read_text()
    assert "reformulate: llm" in text and "# rule (offline) | llm" in text  # the value changed, its comment kept
    assert yaml_load(text)["llm"]["teacher"]["model"] == "gpt-4o"
    bad = tmp_path / "bad.yaml"
    bad.write_text("curate:\n  reformulate: magic\n")
    before = params.read_text()
    with pytest.raises(ConfigError, match="reformulate"):
        main([str(bad), "--params", str(params)])
    assert params.read_text() == before


def yaml_load(text: str) -> dict:
    import yaml

    return yaml.safe_load(text)
