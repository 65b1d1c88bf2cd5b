"""Compose verified trajectories into SFT records {Question, Complex_CoT, Response} (METHOD.md section 3.3, step 6).

Two teacher calls per verified trajectory: the stream of search rewritten as natural first-person thinking, expanded,
one thought per line (Complex_CoT), then a rich reply that leads with the answer (Response). Both are verified again
against the ground truth by one verifier: the Response whole, the Complex_CoT by its last line (where the thinking
states its conclusion). Either can contradict the ground truth, and a real share of the authors' released Responses
do. The training text downstream is
``## Thinking\\n\\n{Complex_CoT}\\n\\n## Final Response\\n\\n{Response}``, so neither part may contain those headers.
The report gives the length distributions of both parts (characters, and lines of the Complex_CoT).

A user with SFT data already in the HuatuoGPT-o1 format brings it with ``read_sft_file`` instead.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from pathlib import Path
from typing import Any, Literal

from medreason.data.frames import read_jsonl
from medreason.data.schema import normalise
from medreason.format import has_marker
from medreason.llm.structured import ask_parsed, split_prompt
from medreason.search.steps import Step, final_conclusion, stream_of_search

SFT_FIELDS = ("Question", "Complex_CoT", "Response")
CotUnverified = Literal["drop", "keep", "conclude"]


def _free_text(_: int, text: str) -> tuple[str | None, str | None]:
    text = text.strip()
    if not text:
        return None, "empty reply"
    if has_marker(text):
        return None, "contains a '## Thinking' or '## Final Response' header"
    return text, None


def _thinking(i: int, text: str) -> tuple[str | None, str | None]:
    """A Complex_CoT must run over several lines, as the authors required of theirs (one thought per line)."""
    value, why = _free_text(i, text)
    if value is not None and len(_lines(value)) < 2:
        return None, "one paragraph: write one thought per line"
    return value, why


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def cot_conclusion(cot: str) -> str:
    """The Complex_CoT's own conclusion: its last non-empty line (the prompt asks the thinking to end on a line that
    states it). Not the whole text: a thinking that weighs the reference and settles elsewhere names it on the way,
    and on the authors' records the last two lines already let asides and dismissed candidates through."""
    lines = _lines(cot)
    return lines[-1].strip() if lines else ""


def compose(trajectories: list[dict[str, Any]], teacher, verifier, max_asks: int = 2,
            scaffold: bool = False, exclude_label_hinted: bool = False,
            cot_unverified: CotUnverified = "drop") -> tuple[list[dict], dict]:
    """SFT records for the verified trajectories, and the counts: in = composed + dropped (by reason, with ids).

    With ``scaffold`` (small models, whose replies rarely restate the answer) a Response that does not verify is
    replaced by the trajectory's verified Final Conclusion (written by the model and already checked), counted as
    ``response_replaced``, and the Complex_CoT may be one paragraph. A Complex_CoT whose last line does not verify
    is counted (``cot_unverified``) and then, by ``cot_unverified``: ``drop`` the record (reason ``cot_contradicts``),
    ``keep`` it as it is, or ``conclude`` it: the trajectory's verified Final Conclusion becomes its last line."""
    verified = [t for t in trajectories if t["status"] == "verified"]
    excluded = [t for t in verified if exclude_label_hinted and t["label_hinted"]]
    verified = [t for t in verified if not (exclude_label_hinted and t["label_hinted"])]
    cot_t, cot_reask, cot_v = split_prompt("compose_cot")
    resp_t, resp_reask, resp_v = split_prompt("compose_response")
    streams = [stream_of_search([Step(**s) for s in t["chain"]]) for t in verified]
    cots = ask_parsed(teacher, [[{"role": "user", "content": cot_t.format(question=t["question"], stream=st)}]
                                for t, st in zip(verified, streams)], cot_v, _free_text if scaffold else _thinking,
                      cot_reask, max_asks, desc="compose cot")
    ok = [i for i, c in enumerate(cots) if c.value is not None]
    responses = ask_parsed(teacher, [[{"role": "user", "content": resp_t.format(
        question=verified[i]["question"], thinking=cots[i].value)}] for i in ok], resp_v, _free_text, resp_reask,
        max_asks, desc="compose response")
    answered = [(i, r) for i, r in zip(ok, responses) if r.value is not None]
    # One batch: each Response, then each Complex_CoT's conclusion, against the same ground truth.
    checks = verifier.verify_many(
        [(r.value, verified[i]["ground_truth"], verified[i]["question"]) for i, r in answered]
        + [(cot_conclusion(cots[i].value), verified[i]["ground_truth"], verified[i]["question"]) for i, _ in answered])
    dropped: dict[str, list[str]] = {}
    for c, t in zip(cots, verified):
        if c.value is None:
            dropped.setdefault("cot_unusable", []).append(t["id"])
    for i, r in zip(ok, responses):
        if r.value is None:
            dropped.setdefault("response_unusable", []).append(verified[i]["id"])
    records, replaced, cot_failed = [], [], []
    for (i, r), check, cot_check in zip(answered, checks[:len(answered)], checks[len(answered):]):
        t = verified[i]
        response, cot = r.value, cots[i].value
        if not cot_check.correct:
            cot_failed.append(t["id"])
        if not check.correct and scaffold:
            response = _conclusion(t)
            replaced.append(t["id"])
        elif not check.correct:
            dropped.setdefault("response_contradicts", []).append(t["id"])
            continue
        if not cot_check.correct and cot_unverified == "drop":
            dropped.setdefault("cot_contradicts", []).append(t["id"])
            continue
        if not cot_check.correct and cot_unverified == "conclude":
            cot = f"{cot}\n\n{_conclusion(t)}"
        records.append({
            "Question": t["question"], "Complex_CoT": cot, "Response": response,
            "id": t["id"], "mcq_id": t["mcq_id"], "source": "search", "label_hinted": t["label_hinted"],
            "attempts": t["attempts"], "depth": t["depth"], "strategies": t["strategies"],
            "tokens": t["tokens"] + cots[i].tokens + r.tokens, "cost": round(t["cost"] + cots[i].cost + r.cost, 6),
        })
    report = {"verified": len(verified) + len(excluded), "label_hinted_excluded": len(excluded),
              "composed": len(records),
              "dropped": {k: len(v) for k, v in sorted(dropped.items())}, "dropped_ids": dropped,
              "response_replaced": len(replaced),
              "cot_unverified": {"count": len(cot_failed), "action": cot_unverified, "ids": cot_failed},
              "lengths": length_stats(records)}
    assert report["verified"] == len(excluded) + report["composed"] + sum(report["dropped"].values())
    return records, report


def length_stats(records: list[dict[str, Any]]) -> dict[str, dict[str, float] | None]:
    """Characters of Complex_CoT and Response, and non-empty lines of Complex_CoT: min, median, mean, max (None when
    there are no records). The authors' 137 demo records: Complex_CoT median 2,229 characters on 7 lines, Response
    median 615."""
    def spread(values: list[int]) -> dict[str, float] | None:
        if not values:
            return None
        return {"min": min(values), "median": statistics.median(values),
                "mean": round(statistics.fmean(values), 1), "max": max(values)}

    return {"complex_cot_chars": spread([len(r["Complex_CoT"]) for r in records]),
            "complex_cot_lines": spread([len(_lines(r["Complex_CoT"])) for r in records]),
            "response_chars": spread([len(r["Response"]) for r in records])}


def _conclusion(trajectory: dict[str, Any]) -> str:
    return final_conclusion([Step(**s) for s in trajectory["chain"]])


def read_sft_file(path: str | Path) -> list[dict[str, Any]]:
    """Bring-your-own SFT data in the HuatuoGPT-o1 format (JSON list or JSON lines with Question, Complex_CoT,
    Response); a record missing a field or with an empty one is an error naming it."""
    text = Path(path).read_text(encoding="utf-8")
    rows = json.loads(text) if text.lstrip().startswith("[") else read_jsonl(path)
    records, seen = [], {}
    for n, row in enumerate(rows):
        bad = [f for f in SFT_FIELDS if not isinstance(row.get(f), str) or not row[f].strip()]
        if bad:
            raise ValueError(f"{path}: record {n} has no text in {bad}")
        pid = hashlib.sha256(normalise(row["Question"]).encode()).hexdigest()[:16]
        if pid in seen:
            raise ValueError(f"{path}: record {n} repeats the question of record {seen[pid]}")
        seen[pid] = n
        records.append({**{f: row[f].strip() for f in SFT_FIELDS}, "id": pid, "mcq_id": None, "source": "file",
                        "label_hinted": False, "attempts": 0, "depth": 0, "strategies": [], "tokens": 0, "cost": 0.0})
    return records
