"""Reasoning steps of a searched trajectory (HuatuoGPT-o1, METHOD.md §3.2): parse, check, serialise.

"Inner Thinking" steps have a short title; "Final Conclusion" and "Verification" have content only. Replies come
in the paper's JSON (optionally in a ```json fence, or a bare list of steps):

    {"CoT": [{"action": "Inner Thinking", "title": "Recall the physiology", "content": "..."},
             {"action": "Final Conclusion", "content": "..."},
             {"action": "Verification", "content": "..."}]}

or, since small models cannot reliably write JSON, headers (every line starting "### " is one):

    ### Inner Thinking: Recall the physiology
    ...content...

    ### Final Conclusion
    ...

    ### Verification
    ...

An initial chain is Inner Thinking+, Final Conclusion, Verification. A refinement's continuation starts with a
Verification of the previous conclusion and then has the same shape.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from medreason.format import has_marker
from medreason.llm.structured import unwrap_fence

ACTIONS = ("Inner Thinking", "Final Conclusion", "Verification")
THINK, CONCLUSION, VERIFY = ACTIONS
# Small models forget titles in the header format; a title is cosmetic. Not "Thinking": the stream of search heads a
# step "### <title>", and "### Thinking" holds the answer format's "## Thinking" marker (format.py).
DEFAULT_TITLE = "Reasoning"

_ACTION_BY_KEY = {a.lower(): a for a in ACTIONS}
_FENCE_ANYWHERE = re.compile(r"```[\w-]*[ \t]*\n(.*?)\n?[ \t]*```", re.S)
_HEADER = re.compile(r"^###[ \t]+(.*?)[ \t]*$", re.M)


@dataclass(frozen=True)
class Step:
    action: str
    content: str
    title: str | None = None  # Inner Thinking only


def _title(step: Step) -> str:
    return step.title or DEFAULT_TITLE  # a hand-built Inner Thinking may lack one


def _action(name: object) -> str | None:
    return _ACTION_BY_KEY.get(" ".join(name.split()).lower()) if isinstance(name, str) else None


def _parse_json(text: str) -> tuple[list[Step] | None, str | None]:
    try:
        data = json.loads(text, strict=False)  # strict=False: models put raw newlines inside strings
    except json.JSONDecodeError as e:
        return None, f"malformed JSON: {e.msg} (line {e.lineno})"
    if isinstance(data, dict):
        data = data.get("CoT")
    if not isinstance(data, list) or not data:
        return None, 'JSON has no non-empty "CoT" list of steps'
    steps = []
    for n, item in enumerate(data, 1):
        if not isinstance(item, dict):
            return None, f"step {n} is not an object"
        action = _action(item.get("action"))
        if action is None:
            return None, f"step {n} has unknown action {item.get('action')!r}"
        content = item.get("content")
        if not isinstance(content, str) or not content.strip():
            return None, f"step {n} ({action}) has empty content"
        title = item.get("title")
        if action == THINK and (not isinstance(title, str) or not title.strip()):
            return None, f"step {n} (Inner Thinking) has no title"
        steps.append(Step(action, content.strip(), title.strip() if action == THINK else None))
    return steps, None


def _parse_headers(text: str) -> tuple[list[Step] | None, str | None]:
    headers = list(_HEADER.finditer(text))
    if not headers:
        return None, "neither JSON nor '### ' step headers"
    if text[:headers[0].start()].strip():
        return None, "text before the first step"
    steps = []
    for n, header in enumerate(headers, 1):
        name, _, title = header.group(1).partition(":")
        action = _action(name)
        if action is None:
            return None, f"step {n} has unknown action {name.strip()!r}"
        title = title.strip()
        if title and action != THINK:
            return None, f"step {n} ({action}) takes no title"
        end = headers[n].start() if n < len(headers) else len(text)
        content = text[header.end():end].strip()
        if not content:
            return None, f"step {n} ({action}) has empty content"
        steps.append(Step(action, content, (title or DEFAULT_TITLE) if action == THINK else None))
    return steps, None


def parse_steps(text: str) -> tuple[list[Step] | None, str | None]:
    """(steps, None) or (None, why), from either format (module docstring)."""
    text = unwrap_fence(text)
    if not text:
        return None, "empty reply"
    if text[0] in "{[":
        return _parse_json(text)
    if not _HEADER.search(text) and "{" in text:  # prose around a JSON object, as chat models often write
        inner = _FENCE_ANYWHERE.search(text)
        return _parse_json(inner.group(1).strip() if inner else text[text.find("{"):text.rfind("}") + 1])
    return _parse_headers(text)


def _check_chain(actions: list[str], start: int) -> str | None:
    """Why actions[start:] is not Inner Thinking+, Final Conclusion, Verification (step numbers are 1-based)."""
    if actions.count(CONCLUSION) > 1:
        return "more than one Final Conclusion"
    i = start
    while i < len(actions) and actions[i] == THINK:
        i += 1
    if i == start:
        return f"step {start + 1} must be Inner Thinking" if start < len(actions) else "no Inner Thinking"
    if i == len(actions):
        return "no Final Conclusion"
    if actions[i] != CONCLUSION:
        return f"step {i + 1} ({actions[i]}) comes before the Final Conclusion"
    if i + 1 == len(actions) or actions[i + 1] != VERIFY:
        return "the Final Conclusion is not followed by a Verification"
    if i + 2 < len(actions):
        return "steps after the final Verification"
    return None


def check_init(steps: list[Step]) -> str | None:
    """Why an initial chain is invalid (not Inner Thinking+, Final Conclusion, Verification), or None."""
    return _check_chain([s.action for s in steps], 0)


def check_continuation(steps: list[Step]) -> str | None:
    """Why a continuation is invalid (not Verification, Inner Thinking+, Final Conclusion, Verification), or None."""
    if not steps or steps[0].action != VERIFY:
        return "a continuation must start with a Verification"
    return _check_chain([s.action for s in steps], 1)


def parse_and_check(text: str, kind: str) -> tuple[list[Step] | None, str | None]:
    """parse_steps then check_init (kind "init") or check_continuation ("continuation"); the reason says which."""
    checks = {"init": check_init, "continuation": check_continuation}
    if kind not in checks:
        raise ValueError(f"kind must be 'init' or 'continuation', not {kind!r}")
    steps, why = parse_steps(text)
    if steps is None:
        return None, f"unparseable: {why}"
    why = checks[kind](steps)
    return (None, f"invalid {kind}: {why}") if why else (steps, None)


def final_conclusion(steps: list[Step]) -> str:
    """The content of the last Final Conclusion (a refined chain has several; the last is its answer)."""
    for step in reversed(steps):
        if step.action == CONCLUSION:
            return step.content
    raise ValueError("no Final Conclusion among the steps")


def to_json(steps: list[Step]) -> str:
    """{"CoT": [...]} with indent 2, the context the strategy prompts show (keys in the paper's order)."""
    cot = [{"action": s.action, **({"title": _title(s)} if s.action == THINK else {}), "content": s.content}
           for s in steps]
    return json.dumps({"CoT": cot}, indent=2, ensure_ascii=False)


def to_headers(steps: list[Step]) -> str:
    """The header format; parse_steps reads it back (unless a content line itself starts with "### ")."""
    return "\n\n".join(f"### {s.action}{': ' + _title(s) if s.action == THINK else ''}\n{s.content}" for s in steps)


def stream_of_search(steps: list[Step]) -> str:
    """The paper's "stream of search" for the Complex_CoT rewrite: "### <title>" / "### Conclusion" /
    "### Verification" headers over each step's content, joined by blank lines."""
    heads = {CONCLUSION: "Conclusion", VERIFY: "Verification"}
    return "\n\n".join(f"{_heading(heads.get(s.action) or _title(s))}\n{s.content}" for s in steps)


def _heading(title: str) -> str:
    """"### <title>", unless that would hold an answer-format marker (a model's title "Thinking it over" makes
    "### Thinking it over"): the teacher rewriting the stream could copy it into the Complex_CoT."""
    heading = f"### {title}"
    return f"### {DEFAULT_TITLE}" if has_marker(heading) else heading
