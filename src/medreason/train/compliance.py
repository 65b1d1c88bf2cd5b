"""Format compliance: the share of greedy generations that follow the think-then-answer format."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medreason.format import follows_format


def generate(model_dir: str | Path, questions: list[str], max_new_tokens: int, batch_size: int = 8) -> list[str]:
    """Greedy replies of the model in ``model_dir`` to each question as a single user turn."""
    import torch
    from accelerate import PartialState
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir, padding_side="left")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    device = PartialState().device
    model = AutoModelForCausalLM.from_pretrained(model_dir).to(device).eval()
    # Longest first: batches of similar length pad less; the replies go back in the questions' order.
    order = sorted(range(len(questions)), key=lambda i: -len(questions[i]))
    replies: list[str] = [""] * len(questions)
    for start in tqdm(range(0, len(order), batch_size), desc=f"generate {Path(model_dir).name}", unit="batch"):
        idx = order[start:start + batch_size]
        prompts = [tokenizer.apply_chat_template([{"role": "user", "content": questions[i]}], tokenize=False,
                                                 add_generation_prompt=True) for i in idx]
        enc = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        with torch.inference_mode():
            out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id)
        for i, ids in zip(idx, out[:, enc["input_ids"].shape[1]:]):
            replies[i] = tokenizer.decode(ids, skip_special_tokens=True)
    return replies


def format_compliance(model_dir: str | Path, questions: list[str], max_new_tokens: int,
                      batch_size: int = 8) -> dict[str, Any]:
    replies = generate(model_dir, questions, max_new_tokens, batch_size)
    ok = [follows_format(r) for r in replies]
    return {"compliance": round(sum(ok) / max(len(ok), 1), 4), "n": len(ok), "compliant": sum(ok),
            "examples": [{"question": q, "reply": r, "follows_format": f} for q, r, f in zip(questions, replies, ok)]}
