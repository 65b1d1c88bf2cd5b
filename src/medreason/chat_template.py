"""Training-compatible chat templates: the model's own template, with ``{% generation %}`` markers.

TRL's assistant-only loss asks the tokenizer which tokens the template emitted inside ``{% generation %}`` blocks.
Stock templates rarely have them. For the families we know (ChatML, Llama-3 headers, and TRL's table of known stock
templates), we write the same rendering with the markers around each assistant turn's content and end-of-turn token,
and keep it only if it renders exactly as the stock template. For any other template the SFT data falls back to
prompt-completion pairs, whose loss mask TRL derives by rendering the prompt alone.
"""

from __future__ import annotations

import logging

from medreason.format import target_text

log = logging.getLogger(__name__)

# ChatML (SmolLM2, Qwen2): stock rendering, plus generation markers. The default system prompt is filled in.
_CHATML = (
    "{%- for message in messages %}"
    "{%- if loop.first and messages[0]['role'] != 'system' %}"
    "{{- '<|im_start|>system\\n__SYSTEM__<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

PROBE_CONVERSATIONS = [
    [{"role": "user", "content": "What causes scurvy?"}],
    [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": target_text("x", "y")}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
     {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}],
]


# Llama-3 headers (the Llama-3.0 stock template, the authors' fallback; 3.1+ add a dated system block: no match): __BOS__ and __TRIM__ are filled per candidate.
_LLAMA3 = (
    "{%- for message in messages %}"
    "{%- if loop.first %}{{- __BOS__ }}{%- endif %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% generation %}{{- message['content']__TRIM__ + '<|eot_id|>' }}{% endgeneration %}"
    "{%- else %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content']__TRIM__ + '<|eot_id|>' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)


def has_generation_markers(template: str | None) -> bool:
    return bool(template) and "{% generation %}" in template.replace("{%-", "{%").replace("-%}", "%}")


def training_template(tokenizer) -> tuple[str | None, str]:
    """A template with generation markers that renders exactly as the tokenizer's own, and how it was found;
    (None, reason) when we know no such form (the caller then trains on prompt-completion pairs)."""
    stock = tokenizer.chat_template
    if has_generation_markers(stock):
        return stock, "stock (has generation markers)"
    if not stock:
        return None, "no chat template"
    for family, candidate in _candidates(tokenizer):
        if renders_like(tokenizer, candidate):
            return candidate, f"derived: {family} rendering plus generation markers"
    try:  # TRL's table of training variants of known stock templates (Qwen, Gemma, Phi, Llama-3...)
        from trl.chat_template_utils import get_training_chat_template

        candidate = get_training_chat_template(tokenizer)
    except Exception:  # unknown templates raise in some TRL versions
        candidate = None
    if candidate and renders_like(tokenizer, candidate):
        return candidate, "derived: TRL's training variant of the stock template"
    return None, "unknown template family (no generation markers derived)"


def _candidates(tokenizer):
    stock = tokenizer.chat_template
    if "<|im_start|>" in stock:
        system = _default_chatml_system(tokenizer)
        yield "ChatML", _CHATML.replace("__SYSTEM__", system.replace("\\", "\\\\").replace("'", "\\'"))
    if "<|start_header_id|>" in stock:
        for bos in ("bos_token", "''"):
            for trim in (" | trim", ""):
                yield "Llama-3 header", _LLAMA3.replace("__BOS__", bos).replace("__TRIM__", trim)


def renders_like(tokenizer, candidate: str) -> bool:
    """Whether ``candidate`` renders every probe conversation exactly as the tokenizer's template does."""
    for conv in PROBE_CONVERSATIONS:
        for gen in (False, True):
            if conv[-1]["role"] == "assistant" and gen:
                continue
            a = tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen)
            b = tokenizer.apply_chat_template(conv, tokenize=False, add_generation_prompt=gen, chat_template=candidate)
            if a != b:
                log.info("derived template differs from the stock one:\n%r\n%r", a, b)
                return False
    return True


def _default_chatml_system(tokenizer) -> str:
    """The default system prompt the stock template injects (empty when it injects none)."""
    text = tokenizer.apply_chat_template([{"role": "user", "content": "x"}], tokenize=False)
    head = "<|im_start|>system\n"
    return text[len(head):text.index("<|im_end|>")] if text.startswith(head) else ""
