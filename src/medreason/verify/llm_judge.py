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

from medreason.llm.structured import ask_parsed, split_prompt
from medreason.verify.base import Verifier, VerifyResult

_VERDICT = re.compile(r"\s*(true|false)\.?\s*", re.I)


def parse_verdict(text: str | None) -> bool | None:
    """True or False for a reply that is exactly that word (case, surrounding space, a final period tolerated)."""
    if text is None:
        return None
    m = _VERDICT.fullmatch(text)
    if not m:
        return None
    return m.group(1).lower() == "true"


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
        self.template, self.reask, self.prompt_version = split_prompt(prompt)

    def conversation(self, answer: str, reference: str, question: str | None) -> list[dict[str, str]]:
        text = self.template.format(question=question or "(not given)", response=answer, reference=reference)
        return [{"role": "user", "content": text}]

    def judge(self, answers: list[str], references: list[str], questions: list[str | None]) -> list[VerifyResult]:
        conversations = [self.conversation(a, r, q) for a, r, q in zip(answers, references, questions, strict=True)]
        parsed = ask_parsed(self.client, conversations, self.prompt_version, _parse, self.reask, self.max_asks,
                            desc="judge")
        results = []
        for p in parsed:
            if p.value is None:
                results.append(VerifyResult(False, 0.0, f"llm_judge: no verdict after {p.asks} ask(s), counted not "
                                                        f"correct ({p.reason})", p.cost))
            else:
                results.append(VerifyResult(p.value, float(p.value), f"llm_judge: {p.value}", p.cost))
        return results


def _parse(_: int, text: str) -> tuple[bool | None, str | None]:
    verdict = parse_verdict(text)
    return (verdict, None) if verdict is not None else (None, "not a verdict")
