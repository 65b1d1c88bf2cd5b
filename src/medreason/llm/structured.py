"""Ask for a reply that must parse (a verdict, a label, a JSON object), re-asking when it does not.

A prompt file holds the request, a line ``=== re-ask ===``, then the follow-up sent when a reply does not parse;
the follow-up may name the problem with ``{problem}``. The follow-up is a new turn in the same conversation, so it
is a new request (the cache cannot hand back the same unreadable reply). After ``max_asks`` asks an item ends
unparsed, with the reason; a failed request counts as an ask too (failures are not cached, so it is sent again).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from medreason.prompts import REASK_MARKER, load_prompt

# A whole reply wrapped in one code fence (```json, ```markdown or bare ```), as chat models like to write.
_FENCE = re.compile(r"\A\s*```[\w-]*[ \t]*\n?(.*?)\s*```\s*\Z", re.S)


@dataclass(frozen=True)
class Parsed:
    value: Any  # what ``parse`` returned; None if nothing parsed
    reason: str  # "ok", or why not: the last unreadable reply or the request's failure
    cost: float  # summed over every ask
    asks: int
    tokens: int = 0  # prompt + completion tokens, summed over every ask
    raw: str | None = None  # the last reply, whole (kept with a failure for inspection)
    request_failed: bool = False  # the last ask got no reply at all (``reason`` says why), not an unreadable one


def unwrap_fence(text: str) -> str:
    """What is inside a reply that is one code fence, else the reply; stripped."""
    fenced = _FENCE.match(text or "")
    return (fenced.group(1) if fenced else text or "").strip()


def split_prompt(name: str) -> tuple[str, str, str]:
    """(request template, re-ask text, prompt version) of a prompt file."""
    prompt = load_prompt(name)
    if REASK_MARKER not in prompt.text:
        raise ValueError(f"prompt {name!r} has no {REASK_MARKER!r} line separating the re-ask text")
    template, reask = prompt.text.split(REASK_MARKER, 1)
    return template.strip(), reask.strip(), prompt.version


def ask_parsed(client: Any, conversations: list[list[dict[str, str]]], prompt_version: str,
               parse: Callable[[int, str], tuple[Any, str | None]], reask: str, max_asks: int,
               desc: str = "llm", **overrides: Any) -> list[Parsed]:
    """Ask every conversation; ``parse(index, text)`` returns (value, None) or (None, why). All pending items of a
    round go to the client in one batch; ``overrides`` (e.g. seed) go with every request."""
    if max_asks < 1:
        raise ValueError(f"max_asks must be >= 1, got {max_asks}")
    n = len(conversations)
    conversations = list(conversations)
    values: list[Any] = [None] * n
    reasons = ["no answer"] * n
    cost = [0.0] * n
    asks = [0] * n
    tokens = [0] * n
    raw: list[str | None] = [None] * n
    failed = [False] * n
    pending = list(range(n))
    for _ in range(max_asks):
        if not pending:
            break
        completions = client.chat_many([conversations[i] for i in pending], prompt_version, desc=desc, **overrides)
        still = []
        for i, c in zip(pending, completions, strict=True):
            cost[i] += c.cost
            asks[i] += 1
            tokens[i] += c.prompt_tokens + c.completion_tokens
            failed[i] = not c.ok or c.text is None
            if failed[i]:
                reasons[i] = f"request failed: {c.error}"
                still.append(i)
                continue
            raw[i] = c.text
            value, why = parse(i, c.text)
            if why is None:
                values[i], reasons[i] = value, "ok"
                continue
            reasons[i] = f"{why}: {c.text[:120]!r}"
            conversations[i] = conversations[i] + [
                {"role": "assistant", "content": c.text}, {"role": "user", "content": reask.format(problem=why)}]
            still.append(i)
        pending = still
    return [Parsed(values[i], reasons[i], cost[i], asks[i], tokens[i], raw[i], failed[i]) for i in range(n)]
