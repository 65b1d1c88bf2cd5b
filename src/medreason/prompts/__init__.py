"""Every prompt template, one text file each in this folder, loaded by name.

A prompt's version is a hash of its text, so editing a prompt changes the LLM cache key of every request made
with it: a re-run pays for exactly the requests whose prompt changed. Fields are filled with ``str.format``
(``{question}``); literal braces are doubled.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROMPT_DIR = Path(__file__).resolve().parent


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
        known = ", ".join(sorted(p.stem for p in PROMPT_DIR.glob("*.txt"))) or "none"
        raise KeyError(f"no prompt named {name!r} (known: {known})")
    return Prompt(name, path.read_text(encoding="utf-8"))
