"""The strategy search and the composition, driven against the loopback OpenAI-compatible server."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from medreason.config import LLMConfig, SearchConfig
from medreason.llm.client import LLMClient
from medreason.llm.loopback import LoopbackServer
from medreason.prompts import identify
from medreason.search.compose import (
    compose,
    cot_conclusion,
    length_stats,
    read_sft_file,
)
from medreason.search.engine import BACKTRACKING, Search, State, search_report
from medreason.verify import load_verifier

RIGHT, WRONG = "Hyperkalemia", "Hyponatremia"


def chain(conclusion: str, continuation: bool = False) -> str:
    steps = [{"action": "Inner Thinking", "title": "ECG", "content": "Peaked T waves point to potassium."},
             {"action": "Final Conclusion", "content": f"The answer is {conclusion}."},
             {"action": "Verification", "content": "Checked against the ECG."}]
    if continuation:
        steps.insert(0, {"action": "Verification", "content": "The previous conclusion is wrong."})
    return json.dumps({"CoT": steps})


def problem(pid: str) -> dict:
    return {"id": pid, "mcq_id": "m" + pid[1:], "question": f"Case {pid}: peaked T waves in CKD. What disturbance?",
            "ground_truth": RIGHT}


CFG = SearchConfig(max_attempts=2, max_depth=2, new_attempt="regenerate", label_hint=True, format="json")


def find_id(prefix: str, depth: int, strategy: str) -> str:
    """A problem id whose strategy at this depth of attempt 1 is ``strategy`` (the engine's own draw)."""
    search = Search(CFG, teacher=None, verifier=None)
    for n in range(1000):
        state = State(problem(f"{prefix}{n:03d}"), depth=depth)
        if search._strategy(state) == strategy:
            return state.problem["id"]
    raise AssertionError(strategy)


def test_the_search_covers_every_path_and_the_sft_records_are_right(tmp_path):
    plans = {  # problem id -> which request verifies: ("init", 1) first init, ("refine", 2) second refinement...
        "a000": ("init", 1),
        "b000": ("init-invalid-then-valid", 1),
        "c000": ("init", 2),                      # the regenerated chain of attempt 2
        "d000": ("label", 1),
        "e000": ("never", 0),
        "f000": ("garbage", 0),                   # never a usable chain
    }
    for s in ("Exploring New Paths", "Verification", "Correction"):  # each strategy verifies at round 1
        plans[find_id("s" + s[0].lower(), 0, s)] = ("refine", 1)
    backtracked = find_id("k", 1, BACKTRACKING)
    plans[backtracked] = ("refine", 2)  # backtracking is only drawn from round 2 on
    asked: Counter[tuple[str, str]] = Counter()

    def script(messages):
        text = messages[0]["content"]
        pid = re.search(r"Case (\w+):", text).group(1)
        prompt = identify(text)
        if prompt == "compose_cot":
            if pid == "b000" and identify(messages[-1]["content"], among=[prompt]) != "compose_cot:reask":
                return f"Hmm, peaked T waves, that is potassium, so {RIGHT}."  # one paragraph: re-asked
            last = WRONG if pid == "c000" else RIGHT  # c000: the thinking concludes against the ground truth
            return f"Hmm, peaked T waves.\n\nWait, that is potassium.\n\nSo the answer is {last}."
        if prompt == "compose_response":
            return (f"The answer is {RIGHT}." if pid != "a000" else f"The answer is {WRONG}.")  # a000: contradicts
        kind = {"search_init": "init", "search_refine": "refine", "search_label": "label"}[prompt]
        asked[pid, kind] += 1
        n = asked[pid, kind]
        plan_kind, plan_n = plans[pid]
        if plan_kind == "garbage":
            return "I would rather not use that format."
        if plan_kind == "init-invalid-then-valid" and kind == "init":
            reasked = identify(messages[-1]["content"], among=[prompt]) == "search_init:reask"
            return chain(RIGHT) if reasked else "I think it is potassium."
        verified = plan_kind == kind and plan_n == n
        return chain(RIGHT if verified else WRONG, continuation=kind != "init")

    problems = [problem(pid) for pid in plans]
    with LoopbackServer(script=script) as srv:
        teacher = LLMClient(LLMConfig(backend="openai", model="teacher", base_url=srv.base_url, max_retries=1),
                            tmp_path / "teacher.sqlite")
        trajectories = Search(CFG, teacher, load_verifier("lexical")).run(problems)
        by_id = {t["id"]: t for t in trajectories}
        records, composed = compose(trajectories, teacher, load_verifier("lexical"))

    assert by_id["a000"]["status"] == "verified" and by_id["a000"]["depth"] == 0
    assert [r["kind"] for r in by_id["a000"]["rounds"]] == ["init"]
    assert by_id["b000"]["status"] == "verified" and by_id["b000"]["rounds"][0]["error"] is None
    c = by_id["c000"]
    assert c["status"] == "verified" and c["attempts"] == 2 and c["depth"] == 0
    assert [r["kind"] for r in c["rounds"]] == ["init", "strategy", "strategy", "init"]
    d = by_id["d000"]
    assert d["status"] == "verified" and d["label_hinted"] and d["rounds"][-1]["kind"] == "label"
    e = by_id["e000"]
    assert e["status"] == "failed" and not e["label_hinted"] and e["reason"]
    assert len(e["rounds"]) == 1 + 2 + 1 + 2 + 1  # init, 2 rounds, new init, 2 rounds, label
    f = by_id["f000"]  # two unusable initial chains (each asked twice), then nothing to refine or hint from
    assert f["status"] == "failed" and [r["kind"] for r in f["rounds"]] == ["init", "init"]
    assert "unparseable" in f["reason"] and "I would rather not use that format." in f["reason"]
    assert asked["f000", "init"] == 2 * CFG.max_asks
    for pid, (kind, n) in plans.items():
        if kind == "refine":
            t = by_id[pid]
            assert t["status"] == "verified" and t["depth"] == n and not t["label_hinted"]
            assert t["rounds"][-1]["verified"] and t["rounds"][0]["strategy"] != BACKTRACKING
    won = {by_id[pid]["strategies"][-1] for pid, (kind, _) in plans.items() if kind == "refine"}
    assert won == {"Exploring New Paths", "Verification", "Correction", BACKTRACKING}
    # The spliced chain: the initial steps without their last Verification, then the continuation.
    k = by_id[backtracked]
    assert [s["action"] for s in k["chain"]].count("Final Conclusion") == 3
    assert k["chain"][-2]["content"] == f"The answer is {RIGHT}."

    report = search_report(trajectories)
    assert report["problems"] == len(plans) and report["verified"] == len(plans) - 2
    assert report["unusable_rounds"] == 2
    assert report["label_hinted"] == 1 and report["verified_at"] == {"init": 3, "strategy": 4, "label": 1}
    assert report["strategies"][BACKTRACKING]["verified"] == 1
    assert report["tokens_per_verified"] > 0

    # Composition: a000's Response contradicts its ground truth, c000's Complex_CoT concludes against it: both are
    # dropped, counted; b000's one-paragraph thinking was re-asked.
    assert (composed["verified"], composed["composed"]) == (len(plans) - 2, len(plans) - 4)
    assert composed["dropped_ids"] == {"response_contradicts": ["a000"], "cot_contradicts": ["c000"]}
    assert composed["response_replaced"] == 0
    assert composed["cot_unverified"] == {"count": 1, "action": "drop", "ids": ["c000"]}
    assert {r["id"] for r in records} == {pid for pid in plans} - {"a000", "c000", "e000", "f000"}
    for r in records:
        assert set(r) >= {"Question", "Complex_CoT", "Response", "id", "mcq_id", "label_hinted"}
        assert RIGHT in r["Response"] and "## Final Response" not in r["Complex_CoT"]
        assert r["Complex_CoT"].splitlines()[-1] == f"So the answer is {RIGHT}."
    assert next(r for r in records if r["id"] == "d000")["label_hinted"]
    cot, response = len(records[0]["Complex_CoT"]), len(f"The answer is {RIGHT}.")
    assert composed["lengths"] == {"complex_cot_chars": {"min": cot, "median": cot, "mean": cot, "max": cot},
                                   "complex_cot_lines": {"min": 3, "median": 3, "mean": 3, "max": 3},
                                   "response_chars": dict.fromkeys(("min", "median", "mean", "max"), response)}
    with LoopbackServer(script=script) as srv:  # params switches downstream, answered from the cache
        teacher = LLMClient(LLMConfig(backend="openai", model="teacher", base_url=srv.base_url, max_retries=1),
                            tmp_path / "teacher.sqlite")
        records, composed = compose(trajectories, teacher, load_verifier("lexical"), exclude_label_hinted=True)
        kept, kept_report = compose(trajectories, teacher, load_verifier("lexical"), cot_unverified="keep")
        concluded, _ = compose(trajectories, teacher, load_verifier("lexical"), cot_unverified="conclude")
        assert sum(srv.received.values()) == 0
    assert composed["label_hinted_excluded"] == 1 and "d000" not in {r["id"] for r in records}
    assert kept_report["cot_unverified"]["count"] == 1 and "cot_contradicts" not in kept_report["dropped"]
    assert next(r for r in kept if r["id"] == "c000")["Complex_CoT"].endswith(f"So the answer is {WRONG}.")
    assert next(r for r in concluded if r["id"] == "c000")["Complex_CoT"].endswith(
        f"So the answer is {WRONG}.\n\nThe answer is {RIGHT}.")  # the chain's verified Final Conclusion


def test_restart_goes_back_to_the_first_chain_and_a_rerun_is_answered_from_the_cache(tmp_path):
    cfg = SearchConfig(max_attempts=2, max_depth=1, new_attempt="restart", label_hint=False, format="headers")
    wrong = "### Inner Thinking: ECG\nPeaked T waves.\n### Final Conclusion\nHyponatremia\n### Verification\nOk."

    def script(messages):
        return ("### Verification\nWrong.\n" if identify(messages[0]["content"]) == "search_refine" else "") + wrong

    with LoopbackServer(script=script) as srv:
        cfg_llm = LLMConfig(backend="openai", model="teacher", base_url=srv.base_url, max_retries=1)
        first = Search(cfg, LLMClient(cfg_llm, tmp_path / "t.sqlite"), load_verifier("lexical")).run([problem("x1")])
        received = sum(srv.received.values())
        again = Search(cfg, LLMClient(cfg_llm, tmp_path / "t.sqlite"), load_verifier("lexical")).run([problem("x1")])
        assert sum(srv.received.values()) == received  # nothing asked twice
    (t,) = first
    assert again == first
    assert t["status"] == "failed" and [r["kind"] for r in t["rounds"]] == ["init", "strategy", "strategy"]
    assert t["rounds"][2]["attempt"] == 2  # restarted from the first chain: no new init


def test_bring_your_own_sft_data(tmp_path):
    path = tmp_path / "sft.json"
    path.write_text(json.dumps([{"Question": "Q1?", "Complex_CoT": "thinking", "Response": "answer"}]))
    (r,) = read_sft_file(path)
    assert r["source"] == "file" and r["Response"] == "answer" and len(r["id"]) == 16
    path.write_text(json.dumps([{"Question": "Q1?", "Complex_CoT": "", "Response": "answer"}]))
    with pytest.raises(ValueError, match="record 0 has no text in \\['Complex_CoT'\\]"):
        read_sft_file(path)


def test_the_authors_records_lengths_and_conclusions():
    """What compose's report measures, on the authors' 137 released records: long, multi-line thinking, and a last
    line that is the thinking's conclusion (measured: the lexical verifier passes 50 of them, and 49 Responses)."""
    from conftest import shared_file

    demo = json.loads(shared_file("medqa_demo_processed.json").read_text())
    stats = length_stats(demo)
    assert stats["complex_cot_chars"] == {"min": 1389, "median": 2229, "mean": 2282.6, "max": 3601}
    assert stats["complex_cot_lines"] == {"min": 4, "median": 7, "mean": 7.6, "max": 14}
    assert stats["response_chars"] == {"min": 87, "median": 615, "mean": 703.0, "max": 2216}
    assert length_stats([]) == dict.fromkeys(stats)
    assert cot_conclusion(demo[3]["Complex_CoT"]).startswith("So, after juggling these thoughts, pyrimethamine")
    verifier = load_verifier("lexical")
    passed = {part: sum(v.correct for v in verifier.verify_many(
        [(text(r), r["Ground-True Answer"], r["Open-ended Verifiable Question"]) for r in demo]))
        for part, text in (("cot", lambda r: cot_conclusion(r["Complex_CoT"])), ("response", lambda r: r["Response"]))}
    assert passed["cot"] >= 0.8 * passed["response"] > 0


@pytest.mark.slow
def test_scaffold_search_with_the_real_local_model_on_real_problems(base_model, tmp_path):
    """SmolLM2-135M as teacher (the tiny recipe) on three of the authors' real problems, search then compose."""
    from conftest import shared_file

    demo = json.loads(shared_file("medqa_demo_processed.json").read_text())[:3]
    problems = [{"id": f"{n:016x}", "mcq_id": f"{n:016x}", "question": r["Open-ended Verifiable Question"],
                 "ground_truth": r["Ground-True Answer"]} for n, r in enumerate(demo)]
    cfg = SearchConfig(max_attempts=1, max_depth=1, label_hint=True, format="scaffold")
    # Greedy: a sampled request's seed comes from its cache key, which holds the model folder's path, and the
    # fixture's folder is a fresh tmp path on every run; greedy answers do not depend on it.
    teacher = LLMClient(LLMConfig(backend="local", model=str(base_model), temperature=0.0, max_tokens=48,
                                  batch_size=4), tmp_path / "teacher.sqlite")
    verifier = load_verifier("lexical")
    trajectories = Search(cfg, teacher, verifier).run(problems)
    records, composed = compose(trajectories, teacher, verifier, scaffold=True)

    assert any(t["label_hinted"] for t in trajectories)  # the hinted conclusion is the answer: it verifies
    for t in trajectories:
        assert t["status"] in ("verified", "failed") and t["rounds"][0]["kind"] == "init"
        assert [s["action"] for s in t["chain"]][-2:] == ["Final Conclusion", "Verification"]
        assert all(r["error"] is None for r in t["rounds"])  # the scaffold cannot be unparseable
        assert t["tokens"] > 0
    assert composed["verified"] == sum(t["status"] == "verified" for t in trajectories)
    assert composed["verified"] == composed["composed"] + sum(composed["dropped"].values())
    for r in records:
        assert r["Complex_CoT"] and r["Response"] and "## Final Response" not in r["Complex_CoT"]


def test_the_sft_suite_passes_own_data_and_catches_headers_and_strangers(tmp_path):
    from medreason.config import SFTValidateConfig
    from medreason.quality.runner import run_suite
    from medreason.quality.suites import sft_suite

    path = tmp_path / "sft.jsonl"
    rows = [{"Question": f"Q{n}?", "Complex_CoT": "thinking", "Response": "answer"} for n in range(3)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    good = read_sft_file(path)
    summary = run_suite("sft", *sft_suite(good, set(), SFTValidateConfig(min_rows=3)))
    assert summary["success"], summary
    bad = [{**good[0], "Complex_CoT": "x\n## Final Response\ny"}, {**good[1], "source": "search"}, good[2]]
    summary = run_suite("sft", *sft_suite(bad, {"unrelated"}, SFTValidateConfig(min_rows=3)))
    failed = {k for k, r in summary["results"].items() if not r["success"]}
    assert failed == {"expect_column_values_to_be_in_set(headers_inside)",
                      "expect_column_values_to_be_in_set(from_search_split)"}


def run_scripted(cfg: SearchConfig, script, tmp_path, pid: str = "z1") -> dict:
    with LoopbackServer(script=script) as srv:
        teacher = LLMClient(LLMConfig(backend="openai", model="teacher", base_url=srv.base_url, max_retries=1),
                            tmp_path / "t.sqlite")
        (t,) = Search(cfg, teacher, load_verifier("lexical")).run([problem(pid)])
    return t


def test_an_unusable_regenerated_chain_does_not_refine_the_previous_attempt(tmp_path):
    inits = Counter()

    def script(messages):
        if identify(messages[0]["content"]) == "search_refine":
            return chain(WRONG, continuation=True)
        inits["init"] += 1
        return chain(WRONG) if inits["init"] == 1 else "no format at all"

    cfg = SearchConfig(max_attempts=2, max_depth=1, new_attempt="regenerate", label_hint=False, format="json",
                       max_asks=1)
    t = run_scripted(cfg, script, tmp_path)
    assert [(r["attempt"], r["kind"]) for r in t["rounds"]] == [(1, "init"), (1, "strategy"), (2, "init")]
    assert t["status"] == "failed"


def test_restart_with_depth_zero_refines_nothing(tmp_path):
    cfg = SearchConfig(max_attempts=3, max_depth=0, new_attempt="restart", label_hint=False, format="json")
    t = run_scripted(cfg, lambda messages: chain(WRONG), tmp_path)
    assert [r["kind"] for r in t["rounds"]] == ["init"] and t["status"] == "failed"


def test_a_repeated_round_is_a_new_request_not_a_cache_hit(tmp_path):
    """An unusable continuation leaves the chain as it was; the next round must still be a new sample."""
    def script(messages):
        return "unusable" if identify(messages[0]["content"]) == "search_refine" else chain(WRONG)

    cfg = SearchConfig(max_attempts=1, max_depth=3, label_hint=False, format="json", max_asks=1, seed=1)
    with LoopbackServer(script=script) as srv:
        teacher = LLMClient(LLMConfig(backend="openai", model="teacher", base_url=srv.base_url, max_retries=1),
                            tmp_path / "t.sqlite")
        (t,) = Search(cfg, teacher, load_verifier("lexical")).run([problem("z2")])
        assert teacher.report()["cache_hits"] == 0 and sum(srv.received.values()) == 4
    assert [r["kind"] for r in t["rounds"]] == ["init", "strategy", "strategy", "strategy"]
