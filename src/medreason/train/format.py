"""The think-then-answer format the policy learns in SFT and is rewarded for in RL (METHOD.md sections 4-5)."""

from __future__ import annotations

THINKING = "## Thinking"
FINAL = "## Final Response"


def target_text(complex_cot: str, response: str) -> str:
    """The assistant turn of an SFT example, exactly as the authors' SFT_stage1.py writes it."""
    return f"{THINKING}\n\n{complex_cot}\n\n{FINAL}\n\n{response}"


def follows_format(text: str) -> bool:
    """Exactly one ``## Thinking`` and exactly one ``## Final Response``, in that order."""
    return text.count(THINKING) == 1 and text.count(FINAL) == 1 and text.index(THINKING) < text.index(FINAL)


def final_response(text: str) -> str | None:
    """The text after ``## Final Response`` in a well-formed reply, else None."""
    return text.split(FINAL, 1)[1].strip() if follows_format(text) else None
