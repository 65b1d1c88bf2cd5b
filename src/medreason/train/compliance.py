"""Format compliance: the share of greedy generations that follow the think-then-answer format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medreason.format import follows_format
from medreason.llm.local import LocalModel


def generate(model_dir: str | Path, questions: list[str], max_new_tokens: int, batch_size: int = 8,
             dtype: str = "float32") -> list[str]:
    """Greedy replies of the model in ``model_dir`` (read in ``dtype``) to each question as a single user turn."""
    from accelerate import PartialState

    model = LocalModel(model_dir, dtype=dtype, device=str(PartialState().device))
    prompts = model.chat_prompts([[{"role": "user", "content": q}] for q in questions])
    return [g.text for g in model.generate(prompts, max_new_tokens, batch_size=batch_size,
                                           progress=f"generate {Path(model_dir).name}")]


def format_compliance(model_dir: str | Path, questions: list[str], max_new_tokens: int,
                      batch_size: int = 8, dtype: str = "float32") -> dict[str, Any]:
    replies = generate(model_dir, questions, max_new_tokens, batch_size, dtype)
    ok = [follows_format(r) for r in replies]
    return {"compliance": round(sum(ok) / max(len(ok), 1), 4), "n": len(ok), "compliant": sum(ok),
            "examples": [{"question": q, "reply": r, "follows_format": f} for q, r, f in zip(questions, replies, ok)]}
