"""LLM-judge verifier: a chat model reads the final answer and the reference and replies True or False.

The prompt is ``prompts/judge.txt``: the grading request, then a line ``=== re-ask ===``, then the follow-up
sent when a reply is not a verdict. Its version (a hash of the whole file) goes with every request, so editing
either part re-asks exactly the requests made with it.

Verdicts are parsed strictly (``parse_verdict``): only a reply that is exactly "True" or "False" counts. The
authors' parser took any reply containing "true", so "not true" counted as correct. A reply that is not a
verdict is asked again, as a follow-up turn in the same conversation (a new request, so the cache does not hand
back the same unreadable reply), up to ``max_asks`` asks in all; then it counts as not correct, with the reason.
"""

from __future__ import annotations

import re
from typing import Any

from medreason.prompts import load_prompt
from medreason.verify.base import Verifier, VerifyResult

REASK_MARKER = "=== re-ask ==="
_VERDICT = re.compile(r"\s*(true|false)\.?\s*", re.I)


def parse_verdict(text: str | None) -> bool | None:
    """True or False for a reply that is exactly that word (case, surrounding space, a final period tolerated)."""
    if text is None:
        return None
    m = _VERDICT.fullmatch(text)
    if not m:
        return None
    return m.group(1).lower() == "true"


def judge_prompts(name: str = "judge") -> tuple[str, str, str]:
    """(grading template, re-ask text, prompt version) from the prompt file."""
    prompt = load_prompt(name)
    if REASK_MARKER not in prompt.text:
        raise ValueError(f"prompt {name!r} has no {REASK_MARKER!r} line separating the re-ask text")
    template, reask = prompt.text.split(REASK_MARKER, 1)
    return template.strip(), reask.strip(), prompt.version


class LLMJudgeVerifier(Verifier):
    """Ask ``client.chat_many`` for a verdict per answer; all answers of a round go in one batch."""

    name = "llm_judge"

    def __init__(self, client: Any, max_asks: int = 2, prompt: str = "judge"):
        if client is None or not hasattr(client, "chat_many"):
            raise ValueError("llm_judge needs client=<an object with chat_many(conversations, prompt_version)>, "
                             "e.g. medreason.llm.client.LLMClient(params.llm.judge, cache_path=...)")
        if max_asks < 1:
            raise ValueError(f"max_asks must be >= 1, got {max_asks}")
        self.client = client
        self.max_asks = max_asks
        self.template, self.reask, self.prompt_version = judge_prompts(prompt)

    def conversation(self, answer: str, reference: str, question: str | None) -> list[dict[str, str]]:
        text = self.template.format(question=question or "(not given)", response=answer, reference=reference)
        return [{"role": "user", "content": text}]

    def judge(self, answers: list[str], references: list[str], questions: list[str | None]) -> list[VerifyResult]:
        n = len(answers)
        conversations = [self.conversation(a, r, q) for a, r, q in zip(answers, references, questions, strict=True)]
        cost = [0.0] * n
        last: list[str] = [""] * n  # the last reply or failure, for the reason
        verdicts: list[bool | None] = [None] * n
        pending = list(range(n))
        for ask in range(1, self.max_asks + 1):
            completions = self.client.chat_many([conversations[i] for i in pending], self.prompt_version)
            still = []
            for i, c in zip(pending, completions, strict=True):
                cost[i] += c.cost
                if not c.ok or c.text is None:
                    last[i] = f"request failed: {c.error}"
                    still.append(i)  # a failure is not cached: the same request may be sent again
                    continue
                verdicts[i] = parse_verdict(c.text)
                if verdicts[i] is None:
                    last[i] = f"not a verdict: {c.text[:80]!r}"
                    conversations[i] = conversations[i] + [
                        {"role": "assistant", "content": c.text}, {"role": "user", "content": self.reask}]
                    still.append(i)
            pending = still
            if not pending:
                break
        results = []
        for i in range(n):
            if verdicts[i] is None:
                results.append(VerifyResult(False, 0.0, f"llm_judge: no verdict after {self.max_asks} "
                                                        f"ask(s), counted not correct ({last[i]})", cost[i]))
            else:
                results.append(VerifyResult(verdicts[i], float(verdicts[i]), f"llm_judge: {verdicts[i]}", cost[i]))
        return results
