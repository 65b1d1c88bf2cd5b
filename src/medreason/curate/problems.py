"""Curate: canonical MCQs -> verifiable open-ended problems, every MCQ accounted for.

Steps, in order; an item leaves at the first step that drops it, with the step's reason:

  length       question shorter than ``min_question_chars``                       -> too_short
  difficulty   every configured answerer predicted the correct letter             -> too_easy
  rules        ambiguous by construction (curate.rules: EXCEPT, multi-answer...)  -> the rule's code
  llm_filter   the teacher's verdict is not Pass (strictly one of four labels)   -> the verdict, or unparsed
  reformulate  rule rewrite or the teacher's JSON rewrite fails validation        -> the failure's code
  dedup        another MCQ already produced the same problem                      -> duplicate_problem

The ledger (one row per MCQ: every step's outcome) and the problems are written apart; the funnel report counts
in and out of each step, so read = kept + the sum of the drops, always.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from medreason.config import CurateConfig
from medreason.curate.rules import Rewrite, leaked_options, prefilter, rule_rewrite, self_contained
from medreason.data.schema import normalise, normalised_id, options_text
from medreason.llm.structured import ask_parsed, split_prompt, unwrap_fence

PROBLEM_COLUMNS = ["id", "mcq_id", "source", "question", "ground_truth", "method", "verdict", "verdict_reason",
                   "mcq_question", "options", "answer_idx", "answer", "subject"]  # eval keeps the MCQ form
STEPS = ("length", "difficulty", "rules", "llm_filter", "reformulate", "dedup")
VERDICTS = ("Pass", "Too Simple", "Ambiguous Answer", "Not Reformulatable")
_VERDICT = re.compile(r"\s*(?:verdict\s*:\s*)?(pass|too simple|ambiguous answer|not reformulatable)\.?\s*"
                      r"(?:\n\s*reason\s*:\s*(.*\S))?\s*", re.I | re.S)


@dataclass
class CurateResult:
    ledger: list[dict[str, Any]]  # one per MCQ
    problems: list[dict[str, Any]]
    report: dict[str, Any]


def parse_filter_verdict(text: str) -> tuple[tuple[str, str] | None, str | None]:
    """((label, reason), None) for a reply that is one of the filter's four labels (optionally "Verdict: X" +
    "Reason: ..."), else (None, why)."""
    m = _VERDICT.fullmatch(text)
    if m is None:
        return None, "not one of the four verdicts"
    label = next(v for v in VERDICTS if v.lower() == m.group(1).lower())
    return (label, (m.group(2) or "").strip()), None


def parse_rewrite(text: str, options: dict[str, str], answer_idx: str,
                  max_answer_words: int) -> tuple[Rewrite | None, str | None]:
    """(Rewrite, None) from a reply that is exactly the JSON object the reformulate prompt asks for, whose ground
    truth stands alone (not "B", "All of the above", "Both A and B") and is not a wrong option's text; else
    (None, why)."""
    try:
        obj = json.loads(unwrap_fence(text))
    except ValueError:
        return None, "not a JSON object"
    if not isinstance(obj, dict) or set(obj) != {"question", "ground_truth"}:
        return None, 'not an object with exactly the keys "question" and "ground_truth"'
    question, answer = obj["question"], obj["ground_truth"]
    if not isinstance(question, str) or not isinstance(answer, str) or not question.strip() or not answer.strip():
        return None, "question and ground_truth must be non-empty strings"
    if len(answer.split()) > max_answer_words:
        return None, f"ground_truth longer than {max_answer_words} words"
    if not self_contained(answer):
        return None, "ground_truth only makes sense next to the options (a letter, 'all of the above', a combination)"
    wrong = {normalise(t) for k, t in options.items() if k != answer_idx}
    if normalise(answer) in wrong - {normalise(options.get(answer_idx, ""))}:
        return None, "ground_truth is the text of a wrong option"
    leak = leaked_options(question, options)
    if leak:
        return None, f"the question still depends on the options ({leak})"
    return Rewrite(question.strip(), answer.strip()), None


def curate(rows: list[dict[str, Any]], predictions: dict[str, list[str | None]], cfg: CurateConfig,
           teacher=None) -> CurateResult:
    """``rows``: the MCQs (``read_rows("data/mcq/mcq.parquet")``); ``predictions``: answerer name -> letter per
    row (the difficulty stage's); ``teacher``: an LLMClient, needed for ``llm_filter`` or ``reformulate: llm``."""
    if (cfg.llm_filter or cfg.reformulate == "llm") and teacher is None:
        raise ValueError("curate: llm_filter / reformulate=llm need the teacher client (params llm.teacher)")
    missing = [a.name for a in cfg.answerers if a.name not in predictions]
    if missing:
        raise ValueError(f"curate: no difficulty predictions for {missing}: run the difficulty stage")
    ledger = [{"mcq_id": r["id"], "source": r["source"], "question_chars": len(r["question"].strip()),
               **{f"pred_{name}": predictions[name][n] for name in predictions},
               "rule": None, "verdict": None, "verdict_reason": None, "method": None,
               "dropped_at": None, "reason": None, "detail": None} for n, r in enumerate(rows)]
    funnel = []

    def step(name: str, outcome) -> None:
        """Apply ``outcome(n) -> drop reason or None`` to the items still in; record the step's counts."""
        alive = [n for n, e in enumerate(ledger) if e["dropped_at"] is None]
        dropped: Counter[str] = Counter()
        for n in alive:
            reason = outcome(n)
            if reason is not None:
                ledger[n]["dropped_at"], ledger[n]["reason"] = name, reason
                dropped[reason] += 1
        funnel.append({"step": name, "in": len(alive), "out": len(alive) - sum(dropped.values()),
                       "dropped": dict(sorted(dropped.items()))})

    step("length", lambda n: "too_short" if ledger[n]["question_chars"] < cfg.min_question_chars else None)

    def too_easy(n: int) -> str | None:
        names = [a.name for a in cfg.answerers]
        return "too_easy" if names and all(predictions[a][n] == rows[n]["answer_idx"] for a in names) else None

    step("difficulty", too_easy)

    def rule(n: int) -> str | None:
        r = rows[n]
        ledger[n]["rule"] = prefilter(r["question"], r["options"], r["answer"], r["choice_type"]) if cfg.rules else None
        return ledger[n]["rule"]

    step("rules", rule)
    if cfg.llm_filter:
        verdicts = _llm_filter(teacher, rows, ledger, cfg.max_asks)
        step("llm_filter", lambda n: verdicts[n])
    else:
        step("llm_filter", lambda n: None)

    rewrites = _reformulate(teacher, rows, ledger, cfg)
    step("reformulate", lambda n: rewrites[n].failure)

    problems, seen = [], set()

    def dedup(n: int) -> str | None:
        question, answer = rewrites[n].question, rewrites[n].ground_truth
        pid = normalised_id(normalise(question), [normalise(answer)])
        if pid in seen:
            return "duplicate_problem"
        seen.add(pid)
        r = rows[n]
        problems.append({
            "id": pid, "mcq_id": r["id"], "source": r["source"], "question": question, "ground_truth": answer,
            "method": ledger[n]["method"], "verdict": ledger[n]["verdict"], "verdict_reason": ledger[n]["verdict_reason"],
            "mcq_question": r["question"], "options": r["options"], "answer_idx": r["answer_idx"], "answer": r["answer"],
            "subject": r["subject"]})
        return None

    step("dedup", dedup)
    dropped = Counter(e["reason"] for e in ledger if e["dropped_at"] is not None)
    report = {"in": len(rows), "kept": len(problems), "dropped": sum(dropped.values()),
              "funnel": funnel, "by_reason": dict(sorted(dropped.items())),
              "by_method": dict(Counter(p["method"] for p in problems))}
    assert report["in"] == report["kept"] + report["dropped"]
    return CurateResult(ledger, problems, report)


def _conversation(template: str, row: dict[str, Any], **extra: Any) -> list[dict[str, str]]:
    text = template.format(question=row["question"], options=options_text(row["options"]), answer=row["answer"], **extra)
    return [{"role": "user", "content": text}]


def _llm_filter(teacher, rows, ledger, max_asks: int) -> dict[int, str | None]:
    """The teacher's verdict for each item still in; drop reason per item (None = Pass)."""
    alive = [n for n, e in enumerate(ledger) if e["dropped_at"] is None]
    template, reask, version = split_prompt("curate_filter")
    parsed = ask_parsed(teacher, [_conversation(template, rows[n]) for n in alive], version,
                        lambda i, text: parse_filter_verdict(text), reask, max_asks, desc="llm filter")
    out = {}
    for n, p in zip(alive, parsed):
        if p.value is None:
            ledger[n]["detail"] = p.reason
            out[n] = "llm_request_failed" if p.request_failed else "verdict_unreadable"
            continue
        ledger[n]["verdict"], ledger[n]["verdict_reason"] = p.value
        out[n] = None if p.value[0] == "Pass" else p.value[0].lower().replace(" ", "_")
    return out


def _reformulate(teacher, rows, ledger, cfg: CurateConfig) -> dict[int, Rewrite]:
    """The rewrite (or its failure code) of each item still in. A source that already carries an open-ended
    question and ground truth (the processed HuatuoGPT-o1 format) keeps them, checked the same way."""
    alive = [n for n, e in enumerate(ledger) if e["dropped_at"] is None]
    out: dict[int, Rewrite] = {}
    ask = []
    for n in alive:
        r = rows[n]
        if r.get("open_question") and r.get("ground_truth"):
            ledger[n]["method"] = "source"
            value, why = parse_rewrite(json.dumps({"question": r["open_question"], "ground_truth": r["ground_truth"]}),
                                       r["options"], r["answer_idx"], cfg.max_answer_words)
            out[n] = value or Rewrite(failure="source_rewrite_invalid")
            ledger[n]["detail"] = why
        elif cfg.reformulate == "rule":
            ledger[n]["method"] = "rule"
            out[n] = rule_rewrite(r["question"], r["options"], r["answer"], max_answer_words=cfg.max_answer_words)
        else:
            ledger[n]["method"] = "llm"
            ask.append(n)
    if ask:
        template, reask, version = split_prompt("reformulate")
        parsed = ask_parsed(teacher, [_conversation(template, rows[n], max_words=cfg.max_answer_words) for n in ask],
                            version, lambda i, text: parse_rewrite(text, rows[ask[i]]["options"], rows[ask[i]]["answer_idx"],
                                                          cfg.max_answer_words),
                            reask, cfg.max_asks, desc="reformulate")
        for n, p in zip(ask, parsed):
            if p.value is None:
                out[n] = Rewrite(failure="llm_request_failed" if p.request_failed else "rewrite_invalid")
                ledger[n]["detail"] = p.reason
            else:
                out[n] = p.value
    return out
