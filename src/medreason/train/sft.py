"""Stage 1: supervised fine-tuning with TRL's SFTTrainer, under whatever `accelerate launch` set up.

Every process runs ``train_sft``; only the main process writes reports and talks to MLflow. Checkpoints go to a
folder that survives an interrupted run (a DVC ``persist`` out): a re-run of the same configuration resumes from the
newest complete checkpoint and ends at the same step; a different configuration (examples, training params, template,
process count or base model: ``sft_fingerprint``) starts over; a finished run removes its checkpoints
(train/checkpoints.py). The loss curve goes through a ``CurveLogger``, fed from the Trainer's log history.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from medreason.config import SFTConfig
from medreason.tracking import CurveLogger
from medreason.train.checkpoints import clear_checkpoints, fingerprint, prepare_checkpoints

CURVE_NAMES = ("epoch", "loss", "learning_rate", "grad_norm", "tokens_per_s")
CURVE_TIMINGS = ("tokens_per_s",)  # in MLflow, not in the DVC-tracked plot CSV


def gradient_accumulation(cfg: SFTConfig, num_processes: int) -> int:
    per_step = cfg.per_device_batch_size * num_processes
    if cfg.global_batch_size % per_step:
        raise ValueError(f"sft.global_batch_size {cfg.global_batch_size} is not a multiple of per_device_batch_size "
                         f"{cfg.per_device_batch_size} x {num_processes} processes")
    return cfg.global_batch_size // per_step


def trl_config(cfg: SFTConfig, output_dir: str | Path, num_processes: int, markers: bool):
    """TRL's SFTConfig for our params. Over-long examples were handled before (sft_data), so TRL truncates nothing."""
    from accelerate import PartialState
    from trl import SFTConfig as TRLConfig

    return TRLConfig(
        use_cpu=PartialState().device.type == "cpu",  # bf16 autocast on a CPU needs it outside `accelerate launch`
        output_dir=str(output_dir),
        num_train_epochs=cfg.epochs,
        per_device_train_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=gradient_accumulation(cfg, num_processes),
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,  # a float < 1 is a ratio of the total steps
        weight_decay=cfg.weight_decay,  # not on biases and norm weights (Trainer's rule, the authors' too)
        bf16=cfg.bf16,
        activation_checkpointing=cfg.gradient_checkpointing,
        max_length=cfg.max_length if cfg.batching == "packed" else None,
        packing=cfg.batching == "packed",
        padding_free=cfg.batching == "padding_free",
        assistant_only_loss=markers,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        logging_steps=cfg.logging_steps,
        include_num_input_tokens_seen="non_padding",
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",  # MLflow gets the curve from CurveCallback, inside the stage's own run
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
    )


# Params that change what is trained; the others (where checkpoints go, how often, evaluation) may change on resume.
NOT_TRAINING = ("accelerate_config", "save_steps", "save_total_limit", "logging_steps", "save_dtype", "compliance")


def sft_fingerprint(examples: list[dict[str, Any]], cfg: SFTConfig, template: str | None, num_processes: int,
                    base_fingerprint: str) -> str:
    """What decides an SFT run's result: its checkpoints resume only a run of the same fingerprint."""
    training = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in NOT_TRAINING}
    return fingerprint(examples, training, template, num_processes, base_fingerprint)


def train_sft(examples: list[dict[str, Any]], base_dir: str | Path, out_dir: str | Path,
              checkpoint_dir: str | Path, cfg: SFTConfig, template: str | None, base_fingerprint: str = "",
              callbacks: tuple = (), curve: CurveLogger | None = None) -> dict[str, Any]:
    """Train on ``examples`` (sft_data.build_examples) from ``base_dir``; save the model to ``out_dir``.

    Checkpoints (a shared folder on several nodes) are kept only while the run is unfinished. The curve goes to
    ``curve`` as it grows (a resumed run's earlier steps first, from the Trainer's log history, which it restores).
    Returns the run's summary: steps, where it resumed from, final loss, time.
    """
    import torch
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTTrainer

    state = PartialState()
    checkpoint_dir, out_dir = Path(checkpoint_dir), Path(out_dir)
    curve = curve if curve is not None else CurveLogger(CURVE_NAMES)
    choice = [None]
    if state.is_main_process:
        choice = [prepare_checkpoints(checkpoint_dir, sft_fingerprint(examples, cfg, template, state.num_processes,
                                                                      base_fingerprint))]
    broadcast_object_list(choice)  # every rank resumes from the checkpoint the main process chose
    resume = choice[0]

    # The config first: under DeepSpeed ZeRO-3 it makes from_pretrained load each rank's shard, not the whole model.
    args = trl_config(cfg, checkpoint_dir, state.num_processes, template is not None)
    tokenizer = AutoTokenizer.from_pretrained(base_dir)
    if template is not None:
        tokenizer.chat_template = template  # saved with the model: generation markers render as nothing
    # fp32 master weights (as the authors load them); bf16 is autocast, not storage.
    model = AutoModelForCausalLM.from_pretrained(base_dir, dtype=torch.float32)
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples),
                         processing_class=tokenizer, callbacks=[CurveCallback(curve), *callbacks])
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start

    if not trainer.is_deepspeed_enabled:  # DeepSpeed ZeRO-3 gathers and writes 16-bit weights itself
        trainer.model.to(getattr(torch, cfg.save_dtype))
    trainer.save_model(str(out_dir))
    state.wait_for_everyone()
    if state.is_main_process:
        clear_checkpoints(checkpoint_dir)
    return {"global_step": trainer.state.global_step, "max_steps": trainer.state.max_steps,
            "resumed_from": Path(resume).name if resume else None, "train_loss": result.training_loss,
            "seconds": round(seconds, 2), "gradient_accumulation": trainer.args.gradient_accumulation_steps,
            "num_processes": state.num_processes}


def curve_rows(log_history: list[dict[str, Any]]) -> list[dict[str, float]]:
    """The training curve from the Trainer's log history; tokens/s per logging interval (a resumed session's first
    interval: that session's average so far)."""
    rows, before = [], None
    for h in log_history:
        if "loss" not in h:
            continue
        runtime, seen = h.get("train_runtime"), h.get("num_input_tokens_seen", 0)
        if before is not None and runtime is not None and runtime > before[0]:
            tokens_per_s = (seen - before[1]) / (runtime - before[0])
        else:
            tokens_per_s = h.get("train_tokens_per_second", 0.0)
        before = (runtime, seen) if runtime is not None else None
        rows.append({"step": h["step"], "epoch": round(h.get("epoch", 0.0), 4), "loss": h["loss"],
                     "learning_rate": h.get("learning_rate", 0.0), "grad_norm": h.get("grad_norm", 0.0),
                     "tokens_per_s": round(tokens_per_s, 1)})
    return rows


class CurveCallback(TrainerCallback):
    """Feeds a CurveLogger from the Trainer's log history as it grows (after a resume, the restored steps first; the
    logger skips the steps it has). Every process keeps the rows; only the main one has an MLflow run to log to."""

    def __init__(self, curve: CurveLogger) -> None:
        self.curve = curve

    def on_log(self, args, state, control, logs=None, **kwargs):
        for row in curve_rows(state.log_history):
            self.curve.log(**row)
