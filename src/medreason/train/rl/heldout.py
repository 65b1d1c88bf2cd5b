"""The held-out reward curve: greedy replies of the policy, as it trains, to rl-split questions it never trains on,
scored by the training reward (the authors' run evaluated nothing during RL: METHOD.md section 5.5)."""

from __future__ import annotations

from typing import Any, Sequence

HELDOUT_NAMES = ("mean_reward", "correct", "formatted", "response_length", "eos")


def heldout_scores(runtime, rows: Sequence[dict[str, Any]], reward, max_new_tokens: int,
                   batch_size: int = 8) -> dict[str, float]:
    """Mean reward, share correct, share well-formatted, mean reply tokens and share ended by EOS of greedy replies
    (``runtime``: a llm.local.LocalModel, e.g. ``LocalModel.wrap(policy, tokenizer)``) to ``rows`` (question,
    ground_truth)."""
    if not rows:
        return {}
    prompts = runtime.chat_prompts([[{"role": "user", "content": r["question"]}] for r in rows])
    gens = runtime.generate(prompts, max_new_tokens, batch_size=batch_size)
    scored = reward.score([g.text for g in gens], [r["ground_truth"] for r in rows], [r["question"] for r in rows])
    n = len(rows)
    return {"mean_reward": round(sum(s.reward for s in scored) / n, 4),
            "correct": round(sum(s.correct for s in scored) / n, 4),
            "formatted": round(sum(s.formatted for s in scored) / n, 4),
            "response_length": round(sum(g.completion_tokens for g in gens) / n, 1),
            "eos": round(sum(g.finished for g in gens) / n, 4)}
