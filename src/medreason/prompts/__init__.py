"""Every prompt template, one text file each in this folder, loaded by name.

A prompt's version is a hash of its text, so editing a prompt changes the LLM cache key of every request made
with it: a re-run pays for exactly the requests whose prompt changed. Fields are filled with ``str.format``
(``{question}``); literal braces are doubled. A prompt that asks for a reply that must parse holds its request, a
line ``=== re-ask ===``, then the follow-up sent when a reply does not parse (llm.structured).

``identify(text)`` names the prompt that rendered a message ("judge", or "judge:reask" for its follow-up), so
scripted test servers can choose their replies by prompt, whatever the prompt's wording.
"""

from __future__ import annotations

import hashlib
import re
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Iterable

PROMPT_DIR = Path(__file__).resolve().parent
REASK_MARKER = "=== re-ask ==="


@dataclass(frozen=True)
class Prompt:
    name: str
    text: str

    @property
    def version(self) -> str:
        return f"{self.name}@{hashlib.sha256(self.text.encode('utf-8')).hexdigest()[:12]}"

    def render(self, **fields: str) -> str:
        return self.text.format(**fields)


@cache
def load_prompt(name: str) -> Prompt:
    path = PROMPT_DIR / f"{name}.txt"
    if not path.is_file():
        known = ", ".join(prompt_names()) or "none"
        raise KeyError(f"no prompt named {name!r} (known: {known})")
    return Prompt(name, path.read_text(encoding="utf-8"))


def prompt_names() -> list[str]:
    """Every prompt file's name, sorted."""
    return sorted(p.stem for p in PROMPT_DIR.glob("*.txt"))


def identify(text: str, among: Iterable[str] | None = None) -> str | None:
    """The name of the prompt whose template rendered ``text``: "judge" for its request, "judge:reask" for its
    re-ask; None when no prompt did (a reply, a hand-written message). ``among`` limits the candidates to some
    prompts (with their re-asks). When several templates match, the one with the most literal text wins (a
    scaffold_think_label text also reads as scaffold_conclude_hint with a long answer); a tie is an error, since
    two prompts render that text alike (search_refine and search_label share their re-ask): pass ``among``."""
    wanted = None if among is None else set(among)
    found = [(literal, name) for name, (regex, _, literal) in _templates().items()
             if (wanted is None or name.split(":")[0] in wanted) and regex.fullmatch(text)]
    if not found:
        return None
    best = max(literal for literal, _ in found)
    names = sorted(name for literal, name in found if literal == best)
    if len(names) > 1:
        raise ValueError(f"the text reads as any of {names}: pass among=[...] to choose")
    return names[0]


def fields_of(name: str, text: str) -> dict[str, str] | None:
    """The fields that rendered ``text`` with the template ``name`` ("judge", "judge:reask"), or None if it did
    not render it. White space at either end of the text is not part of any field."""
    templates = _templates()
    if name not in templates:
        raise KeyError(f"no prompt template named {name!r} (known: {', '.join(sorted(templates))})")
    regex, fields, _ = templates[name]
    m = regex.fullmatch(text)
    return None if m is None else {field: m.group(f"f{i}") for i, field in enumerate(fields)}


@cache
def _templates() -> dict[str, tuple[re.Pattern[str], tuple[str, ...], int]]:
    """Template name -> (regex, the field of each group, literal characters): each prompt's request and re-ask."""
    out = {}
    for name in prompt_names():
        text = load_prompt(name).text
        request, marker, reask = text.partition(REASK_MARKER)
        out[name] = _pattern(request.strip())
        if marker:
            out[f"{name}:reask"] = _pattern(reask.strip())
    return out


def _pattern(template: str) -> tuple[re.Pattern[str], tuple[str, ...], int]:
    """A regex that matches what ``template.format(...)`` renders: literal text as it is (doubled braces undone),
    each field a lazy wildcard, a repeated field the same text again; white space tolerated at either end."""
    try:
        pieces = list(string.Formatter().parse(template))
        template.format(**{field: "" for _, field, _, _ in pieces if field is not None})
    except (ValueError, KeyError, IndexError, AttributeError):
        pieces = [(template, None, None, None)]  # never formatted (search_format_json's braces are literal JSON)
    regex, fields, literal = [r"\s*"], [], 0
    for text, field, _, _ in pieces:
        regex.append(re.escape(text))
        literal += len(text)
        if field is None:
            continue
        if field in fields:
            regex.append(f"(?P=f{fields.index(field)})")
        else:
            regex.append(f"(?P<f{len(fields)}>.*?)")
            fields.append(field)
    regex.append(r"\s*")
    return re.compile("".join(regex), re.S), tuple(fields), literal
