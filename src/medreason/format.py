"""The think-then-answer format: ``## Thinking`` then ``## Final Response`` (METHOD.md sections 4-6).

The markers are defined here and nowhere else. Callers need two different readings of a reply:

- ``follows_format`` (strict): exactly one ``## Thinking`` and exactly one ``## Final Response``, in that order;
  ``final_response`` the text after the marker of such a reply. What SFT teaches and what the RL reward pays for: a
  reply that repeats or omits a marker earns the format value 0 and is counted non-compliant, because rewarding it
  would teach the policy to loop.
- ``final_answer`` (lenient): the text after the LAST ``## Final Response``, else the whole reply. What the
  verifiers and answer extraction judge: a reasoning trace may weigh an answer and conclude otherwise, so only the
  conclusion counts, and a reply without markers (a teacher's, a base model's) is still judged on what it says.
"""

from __future__ import annotations

import re

THINKING = "## Thinking"
FINAL = "## Final Response"
MARKERS = (THINKING, FINAL)
_LEADING_JUNK = re.compile(r"^[\s:]+")


def target_text(complex_cot: str, response: str) -> str:
    """The assistant turn of an SFT example, exactly as the authors' SFT_stage1.py writes it."""
    return f"{THINKING}\n\n{complex_cot}\n\n{FINAL}\n\n{response}"


def follows_format(text: str) -> bool:
    """Exactly one ``## Thinking`` and exactly one ``## Final Response``, in that order."""
    return text.count(THINKING) == 1 and text.count(FINAL) == 1 and text.index(THINKING) < text.index(FINAL)


def final_response(text: str) -> str | None:
    """The text after ``## Final Response`` in a reply that follows the format, else None (strict)."""
    return text.split(FINAL, 1)[1].strip() if follows_format(text) else None


def final_answer(text: str | None) -> str:
    """The text after the last ``## Final Response``, else the whole reply, stripped (lenient)."""
    if text is None:
        return ""
    cut = text.rfind(FINAL)
    if cut < 0:
        return text.strip()
    return _LEADING_JUNK.sub("", text[cut + len(FINAL):]).strip()


def has_marker(text: str) -> bool:
    """Whether a text contains either marker (case-insensitive): composed parts must not, or the target breaks."""
    return any(m.lower() in text.lower() for m in MARKERS)
