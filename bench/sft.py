"""Benchmark: trained tokens per second of the sft stage's training loop against a plain TRL SFTTrainer script.

    python bench/sft.py              # 24 real SFT records, 1 epoch per setting; about 12 min on 2 CPU cores
    python bench/sft.py --quick      # 12 records; about 5 min

Data: the authors' demo records (../shared/data/medqa_demo_processed.json: Question, Complex_CoT, Response),
made into chats by the stage's own code (``build_examples``, thinking cut to ``--max-length`` tokens), so every
setting trains on exactly the same token sequences. Model: models/base (SmolLM2-135M; `make run` or
`dvc repro prepare_model` writes it). Settings shared by all runs: lr 1e-4, batch 4 (one process, no
accumulation), 1 epoch, fp32, no gradient checkpointing, the tiny recipe's CPU setup.

Measured, each in a fresh model, in this order, after an untimed warm-up run (one batch):
* ``baseline_tokens_per_s``: a plain TRL script: ``SFTTrainer(model, SFTConfig(...), train_dataset=...)`` with
  assistant-only loss and padded batches, nothing else;
* ``tokens_per_s``: the stage's loop (``medreason.train.sft.train_sft``: checkpoints, curve callback, resume logic)
  with padded batches;
* ``padding_free_tokens_per_s`` and ``packed_tokens_per_s``: the stage's loop with ``batching: padding_free``
  (the batch concatenated, no pad tokens) and ``batching: packed`` (best-fit packing into ``max_length`` rows);
* ``bf16_tokens_per_s``: the stage's loop, padded, with bf16 autocast (this CPU has avx512_bf16 or not: measured).

Tokens per second = the tokens of the examples (template included, no padding) x epochs / the seconds of
``trainer.train()`` (model loading and dataset tokenisation excluded for every setting alike; every setting writes
the same end-of-training checkpoint).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT.parent / "shared" / "data" / "medqa_demo_processed.json"


def plain_trl(examples, base: Path, cfg, out: Path) -> float:
    """The baseline: what a user writes from TRL's docs, with the same settings."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(output_dir=str(out), num_train_epochs=cfg.epochs, per_device_train_batch_size=cfg.per_device_batch_size,
                     gradient_accumulation_steps=1, learning_rate=cfg.learning_rate, lr_scheduler_type="cosine",
                     weight_decay=cfg.weight_decay, bf16=False, max_length=cfg.max_length, assistant_only_loss=True,
                     save_strategy="steps", save_steps=cfg.save_steps,  # the same end-of-training checkpoint
                     report_to="none", seed=cfg.seed, dataloader_pin_memory=False)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples),
                         processing_class=AutoTokenizer.from_pretrained(base))
    start = time.perf_counter()
    trainer.train()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--records", type=int, default=24)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--base", type=Path, default=ROOT / "models" / "base")
    args = parser.parse_args()
    if not DEMO.is_file():
        sys.exit(f"bench/sft.py needs the demo records at {DEMO}")
    if not (args.base / "model.safetensors").is_file():
        sys.exit(f"bench/sft.py needs {args.base} (make run, or dvc repro prepare_model)")
    from transformers import AutoTokenizer

    from medreason.chat_template import training_template
    from medreason.config import SFTConfig
    from medreason.train.sft import train_sft
    from medreason.train.sft_data import build_examples

    n = 12 if args.quick else args.records
    records = json.loads(DEMO.read_text())[:n]
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    template, _ = training_template(tokenizer)
    examples, report = build_examples(records, tokenizer, template, args.max_length)
    cfg = SFTConfig(learning_rate=1e-4, epochs=1, global_batch_size=4, per_device_batch_size=4,
                    max_length=args.max_length, warmup_ratio=0.0, bf16=False, gradient_checkpointing=False,
                    save_steps=10_000, save_dtype="float32")
    tokens = report["tokens"] * cfg.epochs
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        plain_trl(examples[:cfg.per_device_batch_size], args.base, cfg, tmp / "warm-up")  # one-time costs, untimed
        seconds["baseline"] = plain_trl(examples, args.base, cfg, tmp / "plain")
        for name, setting in [("padded", cfg), ("padding_free", replace(cfg, batching="padding_free")),
                              ("packed", replace(cfg, batching="packed")), ("bf16", replace(cfg, bf16=True))]:
            summary = train_sft(examples, args.base, tmp / name / "model", tmp / name / "ckpt", setting, template,
                                base_fingerprint=name)
            seconds[name] = summary["seconds"]
            print(f"{name}: {summary['global_step']} steps, {summary['seconds']:.1f} s", file=sys.stderr)
    rate = {k: round(tokens / s, 1) for k, s in seconds.items()}
    best_packing = max(rate["padding_free"], rate["packed"])
    print(json.dumps({
        "examples": report["examples"], "tokens": tokens, "mean_tokens": report["mean_tokens"],
        "max_length": args.max_length, "truncated": report["truncated"], "batch": cfg.per_device_batch_size,
        "tokens_per_s": rate["padded"], "packed_tokens_per_s": rate["packed"],
        "padding_free_tokens_per_s": rate["padding_free"], "bf16_tokens_per_s": rate["bf16"],
        "baseline_tokens_per_s": rate["baseline"],
        "stage_vs_baseline": round(rate["padded"] / rate["baseline"], 3),
        "packing_vs_padding": round(best_packing / rate["padded"], 3),
        "meets_target": rate["padded"] >= 0.97 * rate["baseline"] and best_packing > rate["padded"],
    }))


if __name__ == "__main__":
    main()
