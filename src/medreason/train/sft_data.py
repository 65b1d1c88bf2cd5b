"""SFT examples: {Question, Complex_CoT, Response} records as chats, with a stated rule for over-long examples.

The user turn is the Question, the assistant turn ``## Thinking\\n\\n{Complex_CoT}\\n\\n## Final Response\\n\\n{Response}``
(no system prompt is added; the template may add its default one, as the authors' code lets it). With a template
that has generation markers the example is ``{"messages": [...]}`` for TRL's assistant-only loss; otherwise
``{"prompt": [user], "completion": [assistant]}``, whose completion-only loss TRL masks by rendering the prompt alone.

Over-long (more than ``max_length`` tokens, template included): ``truncate_thinking`` cuts the end of Complex_CoT,
never the question or the final response; ``drop`` leaves the example out. Either way it is counted, and an example
whose question and response leave no room for any thinking is dropped as ``too_long_without_thinking``.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from medreason.format import target_text


def chat(question: str, cot: str, response: str, markers: bool) -> dict[str, Any]:
    user = [{"role": "user", "content": question}]
    assistant = [{"role": "assistant", "content": target_text(cot, response)}]
    return {"messages": user + assistant} if markers else {"prompt": user, "completion": assistant}


def n_tokens(tokenizer, example: dict[str, Any], template: str | None) -> int:
    messages = example.get("messages") or example["prompt"] + example["completion"]
    return len(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                             chat_template=template)["input_ids"])


def build_examples(records: list[dict[str, Any]], tokenizer, template: str | None, max_length: int,
                   overlong: str = "truncate_thinking") -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """TRL examples for ``records`` and a report that reconciles: records = examples + dropped."""
    markers = template is not None
    examples, lengths, dropped = [], [], Counter()
    truncated = cut_tokens = 0
    for r in records:
        q, cot, resp = r["Question"], r["Complex_CoT"], r["Response"]
        ex = chat(q, cot, resp, markers)
        n = n_tokens(tokenizer, ex, template)
        if n > max_length and overlong == "drop":
            dropped["too_long"] += 1
            continue
        if n > max_length:
            # Cut at token boundaries, on the text's own characters (decoding ids could split a multi-byte one).
            ends = [end for _, end in tokenizer(cot, add_special_tokens=False, return_offsets_mapping=True)
                    ["offset_mapping"]]
            keep = len(ends) - (n - max_length)
            while keep > 0:  # re-tokenising the cut text may merge or split a token at the seam: measure again
                ex = chat(q, cot[:ends[keep - 1]].rstrip(), resp, markers)
                n = n_tokens(tokenizer, ex, template)
                if n <= max_length:
                    break
                keep -= n - max_length
            if keep <= 0:  # no thinking left: not a think-then-answer example
                dropped["too_long_without_thinking"] += 1
                continue
            truncated += 1
            cut_tokens += len(ends) - keep
        examples.append(ex)
        lengths.append(n)
    report = {"records": len(records), "examples": len(examples), "truncated": truncated,
              "thinking_tokens_cut": cut_tokens, "dropped": dict(dropped), "tokens": sum(lengths),
              "max_tokens": max(lengths, default=0), "mean_tokens": round(sum(lengths) / max(len(lengths), 1), 1),
              "loss_mask": "assistant turn (generation markers)" if markers else "completion (prompt-completion pairs)"}
    assert report["records"] == report["examples"] + sum(dropped.values())
    return examples, report
