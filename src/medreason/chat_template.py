"""Training-compatible chat templates: the model's own template, with ``{% generation %}`` markers.

TRL's assistant-only loss asks the tokenizer which tokens the template emitted inside ``{% generation %}`` blocks.
Stock templates rarely have them. For the families we know, we write the same rendering with the markers around
each assistant turn's content and end-of-turn token, and check that it renders exactly as the stock template.
"""

from __future__ import annotations

import logging

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
    [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "## Thinking\n\nx\n\n## Final Response\n\ny"}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
     {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}],
]


def has_generation_markers(template: str | None) -> bool:
    return bool(template) and "{% generation %}" in template.replace("{%-", "{%").replace("-%}", "%}")


def training_template(tokenizer) -> str | None:
    """A template with generation markers that renders as the tokenizer's own, or None if we know no such form."""
    stock = tokenizer.chat_template
    if has_generation_markers(stock):
        return stock
    if not stock or "<|im_start|>" not in stock:
        return None
    system = _default_chatml_system(tokenizer)
    candidate = _CHATML.replace("__SYSTEM__", system.replace("\\", "\\\\").replace("'", "\\'"))
    return candidate if renders_like(tokenizer, candidate) else None


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
