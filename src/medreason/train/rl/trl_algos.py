"""Stage 2 with TRL's maintained trainers: GRPO and RLOO (TRL 1.16), on the reward our PPO uses.

    summary = train_trl("grpo", rows, "models/sft", "models/rl", "data/rl/checkpoints", params.rl, reward,
                        heldout=heldout_rows, curve=CurveLogger(CURVE_NAMES),
                        heldout_curve=CurveLogger(HELDOUT_NAMES, prefix="heldout"))

How params ``rl`` map onto TRL (read from TRL 1.16's source, not guessed):

- An *update* is what it is for our PPO: ``batch_size`` sampled completions (``batch_size / num_generations``
  prompts, ``num_generations`` completions each, over all processes), then ``ppo_epochs`` passes over them, each
  pass in ``mini_batches`` optimizer steps. TRL's ``generation_batch_size`` is that rollout batch, its
  ``num_iterations`` (mu in the GRPO paper: optimizer passes over one generation batch, with the clipped ratio to
  the policy that sampled it) is ``ppo_epochs``, and its optimizer batch (``per_device_train_batch_size`` x processes
  x gradient accumulation) is ``batch_size / mini_batches``. With ``ppo_epochs = mini_batches = 1`` an update is one
  optimizer step of ``batch_size`` completions. ``max_steps`` = updates x ppo_epochs x mini_batches optimizer steps,
  so the run samples ``total_episodes`` completions as PPO does. (TRL shuffles a rollout batch once: every epoch
  sees the same mini-batches, where PPO reshuffles.)
- ``kl_coef`` is TRL's ``beta`` (> 0 loads a frozen reference copy of the policy). GRPO puts the k3 estimate into
  the per-token loss; RLOO subtracts beta x the summed k1 (log p - log p_ref) from each sequence's reward, as TRL
  0.13's RLOO did.
- ``clip_range`` is TRL's ``epsilon``; ``response_length`` its ``max_completion_length``. TRL 1.16 has no
  ``max_prompt_length``: prompts longer than ours are left out here (counted), as PPO does, never cut.
- ``missing_eos_penalty`` is subtracted from the reward of a completion cut at ``response_length`` (PPO's rule).
- GRPO's loss keeps TRL's default ``loss_type="dapo"``: token losses averaged over all completion tokens of the
  optimizer batch, as PPO's masked token mean, so long and short completions weigh by their tokens (TRL's
  ``"grpo"`` per-sequence mean favours short correct and long wrong replies).
- ``eval_every`` and ``save_steps`` count updates, and the curves' ``step`` is the update, as in PPO's curves.
- PPO's value-model and advantage params (value_model, vf_coef, critic_*, gamma, lam, whiten_rewards,
  value_clip_range, score_position, kl_estimator) have no role: the baselines are the other completions of a prompt.

The held-out curve (greedy replies to rl questions never trained on, train/rl/heldout.py) is computed by a callback
before training, every ``eval_every`` updates and at the end; its rows are kept in the Trainer's log history, so a
resumed run restores them with the checkpoint, like the training curve.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from pathlib import Path
from typing import Any, Sequence

from transformers import TrainerCallback

from medreason.config import RLConfig
from medreason.tracking import CurveLogger
from medreason.train.checkpoints import clear_checkpoints, fingerprint, prepare_checkpoints
from medreason.train.rl.heldout import HELDOUT_NAMES, heldout_scores
from medreason.train.rl.ppo import set_pad_token
from medreason.train.rl.reward import completion_texts

log = logging.getLogger(__name__)

ALGORITHMS = ("grpo", "rloo")
# PPO's curve names where the figure is the same (train/rl/ppo.py). kl is TRL's per-token mean (GRPO: k3, RLOO: k1).
CURVE_NAMES = ("episodes", "mean_reward", "reward_std", "correct", "formatted", "kl", "entropy", "response_length",
               "eos", "clipfrac", "frac_reward_zero_std", "loss", "grad_norm", "learning_rate", "seconds")
CURVE_TIMINGS = ("seconds",)  # in MLflow, not in the DVC-tracked plot CSV
# Where each column comes from in TRL's logs (GRPOTrainer/RLOOTrainer.log: means over the logging interval).
TRL_KEYS = {"mean_reward": "reward", "reward_std": "reward_std", "correct": "medreason/correct",
            "formatted": "medreason/formatted", "kl": "kl", "entropy": "entropy",
            "response_length": "completions/mean_length", "clipfrac": "clip_ratio/region_mean",
            "frac_reward_zero_std": "frac_reward_zero_std", "loss": "loss", "grad_norm": "grad_norm",
            "learning_rate": "learning_rate"}
ROLLOUTS_FILE = "rollouts.jsonl"  # in the checkpoint folder until the run ends
HELDOUT_PREFIX = "heldout/"  # heldout rows in the Trainer's log history
SAVE_TOTAL_LIMIT = 2  # the newest checkpoint, and the one before in case the newest was cut off while written

# Params that do not change what is trained: where and how often to save, the held-out evaluation.
NOT_TRAINING = ("accelerate_config", "save_steps", "save_dtype", "eval_every", "eval_max_new_tokens",
                "rollout_batch_size", "heldout")


def gradient_accumulation(cfg: RLConfig, num_processes: int) -> int:
    """Micro-batches per optimizer step: an optimizer step takes batch_size / mini_batches completions."""
    per_step = cfg.per_device_batch_size * num_processes
    optimizer_batch = cfg.batch_size // cfg.mini_batches
    if optimizer_batch % per_step:
        raise ValueError(f"rl.batch_size {cfg.batch_size} / mini_batches {cfg.mini_batches} = {optimizer_batch} "
                         f"completions per optimizer step is not a multiple of per_device_batch_size "
                         f"{cfg.per_device_batch_size} x {num_processes} processes")
    return optimizer_batch // per_step


def steps_per_update(cfg: RLConfig) -> int:
    return cfg.ppo_epochs * cfg.mini_batches


def trl_config(algorithm: str, cfg: RLConfig, output_dir: str | Path, num_processes: int):
    """TRL's GRPOConfig or RLOOConfig for params ``rl``."""
    from accelerate import PartialState

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm {algorithm!r}: TRL's trainers here are {', '.join(ALGORITHMS)}")
    per_update = steps_per_update(cfg)
    common = dict(
        use_cpu=PartialState().device.type == "cpu",  # bf16 autocast on a CPU needs it outside `accelerate launch`
        output_dir=str(output_dir),
        max_steps=cfg.updates * per_update,
        per_device_train_batch_size=cfg.per_device_batch_size,
        gradient_accumulation_steps=gradient_accumulation(cfg, num_processes),
        generation_batch_size=cfg.batch_size,  # one rollout batch per update, cut into mini_batches steps
        num_generations=cfg.num_generations,
        num_iterations=cfg.ppo_epochs,
        epsilon=cfg.clip_range,
        beta=cfg.kl_coef,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler,
        warmup_steps=cfg.warmup_ratio,  # a float < 1 is a ratio of the total steps
        temperature=cfg.temperature,
        top_k=cfg.top_k,  # TRL's 0 is ours: no top-k filtering
        max_completion_length=cfg.response_length,
        # Policy, old policy and reference log-probs must come from the same deterministic forward (TRL 0.13's PPO
        # and RLOO turned dropout off too).
        disable_dropout=True,
        bf16=cfg.bf16,
        activation_checkpointing=cfg.gradient_checkpointing,
        logging_strategy="steps",
        logging_steps=per_update,  # one curve row per update, with that update's rollouts
        save_strategy="steps",
        save_steps=cfg.save_steps * per_update,  # on update boundaries: a resumed run samples afresh
        save_total_limit=SAVE_TOTAL_LIMIT,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",  # MLflow gets the curves from our callbacks, inside the stage's own run
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
    )
    if algorithm == "grpo":
        from trl import GRPOConfig

        # "none", not TRL's "group": dividing by a group's reward std makes the 0.1 format credit (a group of
        # formatted-wrong and unformatted replies) as large an advantage as a correct answer.
        return GRPOConfig(scale_rewards=cfg.scale_rewards, **common)
    from trl import RLOOConfig

    return RLOOConfig(**common)


def trl_fingerprint(algorithm: str, rows: Sequence[dict[str, Any]], cfg: RLConfig, num_processes: int,
                    base_fingerprint: str) -> str:
    """What decides a run's result: its checkpoints resume only a run of the same fingerprint."""
    training = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in NOT_TRAINING}
    return fingerprint(algorithm, list(rows), training, num_processes, base_fingerprint)


def reward_function(reward, cfg: RLConfig, eos_ids: set[int], rollouts_file: Path | None = None):
    """The reward as a TRL reward function (``reward.trl_function()``'s signature), which also logs each batch's
    share of correct and of well-formatted completions through TRL's ``log_metric``, applies
    ``rl.missing_eos_penalty`` to completions cut at ``response_length`` and, given ``rollouts_file``, appends every
    rollout there as PPO records them (update, prompt id, mcq id, completion, reward...)."""
    from accelerate import PartialState
    from accelerate.utils import gather_object

    def medreason_reward(prompts: list[Any], completions: list[Any], ground_truth: list[str],
                         question: list[str] | None = None, completion_ids: list[list[int]] | None = None,
                         log_metric=None, trainer_state=None, **columns: Any) -> list[float]:
        texts = completion_texts(completions)
        scored = reward.score(texts, ground_truth, question)
        ids = completion_ids if completion_ids is not None else [None] * len(texts)  # None: not known, not cut
        finished = [c is None or (bool(c) and c[-1] in eos_ids) for c in ids]
        values = [s.reward - (cfg.missing_eos_penalty if not done else 0.0) for s, done in zip(scored, finished)]
        if log_metric is not None and scored:
            log_metric("medreason/correct", sum(s.correct for s in scored) / len(scored))
            log_metric("medreason/formatted", sum(s.formatted for s in scored) / len(scored))
        if rollouts_file is not None:
            update = trainer_state.global_step // steps_per_update(cfg)  # the update these rollouts start
            records = [{"update": update, "id": i, "mcq_id": m, "completion": t, "tokens": len(c or ()),
                        "finished": f, "reward": s.reward, "correct": s.correct, "formatted": s.formatted,
                        "reason": s.reason}
                       for i, m, t, c, f, s in zip(columns["id"], columns["mcq_id"], texts, ids, finished, scored,
                                                   strict=True)]
            records = gather_object(records)  # every process scores its own completions
            if PartialState().is_main_process:
                with open(rollouts_file, "a", encoding="utf-8") as f:
                    f.writelines(json.dumps(r) + "\n" for r in records)
        return values

    return medreason_reward


def prepare_rollouts(path: Path, resume: str | None, cfg: RLConfig) -> None:
    """Keep the rollouts of the updates the resumed checkpoint holds (none on a fresh start)."""
    done = int(Path(resume).name.rsplit("-", 1)[1]) // steps_per_update(cfg) if resume else 0
    kept = [line for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
            if json.loads(line)["update"] < done] if resume and path.exists() else []
    path.write_text("".join(kept), encoding="utf-8")


def curve_rows(log_history: list[dict[str, Any]], cfg: RLConfig) -> list[dict[str, Any]]:
    """The training curve, one row per update, from the Trainer's log history."""
    per_update, rows = steps_per_update(cfg), []
    for h in log_history:
        if "reward" not in h:
            continue
        update = h["step"] // per_update
        truncated, step_time = h.get("completions/clipped_ratio"), h.get("step_time")
        rows.append({"step": update, "episodes": update * cfg.batch_size,
                     **{name: h.get(key) for name, key in TRL_KEYS.items()},
                     "eos": None if truncated is None else 1 - truncated,  # TRL's share cut without EOS
                     # TRL's step time: an optimizer step's micro-batches, this update's generation included
                     "seconds": None if step_time is None else round(step_time * per_update, 2)})
    return rows


def heldout_rows(log_history: list[dict[str, Any]], cfg: RLConfig) -> list[dict[str, Any]]:
    per_update = steps_per_update(cfg)
    return [{"step": h["step"] // per_update, **{n: h.get(HELDOUT_PREFIX + n) for n in HELDOUT_NAMES}}
            for h in log_history if HELDOUT_PREFIX + HELDOUT_NAMES[0] in h]


class CurvesCallback(TrainerCallback):
    """Feeds the curves from the Trainer's log history as it grows (after a resume, the restored rows first; a
    CurveLogger skips the steps it has)."""

    def __init__(self, cfg: RLConfig, curve: CurveLogger, heldout_curve: CurveLogger | None):
        self.cfg, self.curve, self.heldout_curve = cfg, curve, heldout_curve

    def feed(self, state) -> None:
        for row in curve_rows(state.log_history, self.cfg):
            self.curve.log(**row)
        if self.heldout_curve is not None:
            for row in heldout_rows(state.log_history, self.cfg):
                self.heldout_curve.log(**row)

    def on_train_begin(self, args, state, control, **kwargs):
        self.feed(state)

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.feed(state)


class HeldoutCallback(TrainerCallback):
    """Greedy replies to the held-out questions, scored by the training reward, before training (update 0), every
    ``every`` optimizer steps and after the last one. The main process evaluates (the others wait); the scores join
    the log history, which checkpoints keep."""

    def __init__(self, rows: Sequence[dict[str, Any]], reward, cfg: RLConfig, every: int, curves: CurvesCallback):
        self.rows, self.reward, self.cfg, self.every, self.curves = list(rows), reward, cfg, every, curves
        self.trainer = None  # set once the trainer exists

    def on_train_begin(self, args, state, control, **kwargs):
        if state.global_step == 0 and not heldout_rows(state.log_history, self.cfg):
            self.evaluate(state)

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if (self.every and step % self.every == 0) or step >= state.max_steps:
            self.evaluate(state)

    def evaluate(self, state) -> None:
        import torch
        from accelerate.utils import broadcast_object_list
        from trl.models import unwrap_model_for_generation

        from medreason.llm.local import LocalModel

        if not self.rows:
            return
        trainer, accelerator = self.trainer, self.trainer.accelerator
        # ZeRO-3 shards the weights: every rank takes part in gathering them, the main one generates.
        zero3 = trainer.is_deepspeed_enabled and accelerator.state.deepspeed_plugin.zero_stage == 3
        scores = [None]
        if zero3 or accelerator.is_main_process:
            # Unwrapped, gradient checkpointing off (the KV cache on) while it generates, as TRL's own rollouts.
            with unwrap_model_for_generation(trainer.model_wrapped, accelerator,
                                             gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs
                                             ) as model:
                if accelerator.is_main_process:
                    was_training = model.training
                    model.eval()  # dropout off while generating (LocalModel.wrap's contract)
                    try:
                        with torch.no_grad(), accelerator.autocast():  # the precision the policy trains in
                            scores = [heldout_scores(LocalModel.wrap(model, trainer.processing_class), self.rows,
                                                     self.reward, self.cfg.eval_max_new_tokens,
                                                     self.cfg.rollout_batch_size)]
                    finally:
                        model.train(was_training)
        broadcast_object_list(scores)  # every rank keeps the same log history and summary
        state.log_history.append({"step": state.global_step, **{HELDOUT_PREFIX + k: v for k, v in scores[0].items()}})
        self.curves.feed(state)


def train_trl(algorithm: str, rows: list[dict], policy_dir, out_dir, checkpoint_dir, cfg: RLConfig, reward,
              heldout: Sequence[dict] = (), curve: CurveLogger | None = None,
              heldout_curve: CurveLogger | None = None, base_fingerprint: str = "",
              rollouts_path: str | Path | None = None, callbacks: tuple = ()) -> dict[str, Any]:
    """Train the policy in ``policy_dir`` with TRL's GRPO or RLOO on ``rows`` (id, mcq_id, question, ground_truth)
    rewarded by ``reward`` (train/rl/reward.py's Reward, or anything with its ``score``); save it to ``out_dir`` in
    ``rl.save_dtype`` with its tokenizer; every rollout (update, prompt id, mcq id, completion, reward) to
    ``rollouts_path`` (JSONL) if given.

    Checkpoints (``checkpoint_dir``) are kept only while the run is unfinished: a re-run of the same configuration
    (``trl_fingerprint``) resumes from the newest complete one. Returns the run's summary: steps, updates, where it
    resumed from, the last update's training metrics and the final held-out scores.
    """
    import torch
    from accelerate import PartialState
    from accelerate.utils import broadcast_object_list
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm {algorithm!r}: TRL's trainers here are {', '.join(ALGORITHMS)}")
    state = PartialState()
    checkpoint_dir, out_dir = Path(checkpoint_dir), Path(out_dir)
    curve = curve if curve is not None else CurveLogger(CURVE_NAMES, timings=CURVE_TIMINGS)
    choice = [None]
    if state.is_main_process:
        choice = [prepare_checkpoints(checkpoint_dir, trl_fingerprint(algorithm, rows, cfg, state.num_processes,
                                                                      base_fingerprint))]
    broadcast_object_list(choice)  # every rank resumes from the checkpoint the main process chose
    resume = choice[0]
    rollouts_file = checkpoint_dir / ROLLOUTS_FILE if rollouts_path is not None else None
    if rollouts_file is not None and state.is_main_process:
        prepare_rollouts(rollouts_file, resume, cfg)

    # The config first: under DeepSpeed ZeRO-3 it makes from_pretrained load each rank's shard, not the whole model.
    args = trl_config(algorithm, cfg, checkpoint_dir, state.num_processes)
    tokenizer = AutoTokenizer.from_pretrained(policy_dir)
    set_pad_token(tokenizer, cfg)
    # fp32 master weights (as the SFT stage); bf16 is autocast, not storage. TRL loads the reference model from the
    # same folder, in the same dtype.
    model = AutoModelForCausalLM.from_pretrained(policy_dir, dtype=torch.float32)
    eos_ids = {tokenizer.eos_token_id}
    configured = model.generation_config.eos_token_id  # what TRL also stops at
    eos_ids.update(configured if isinstance(configured, list) else [configured])
    eos_ids.discard(None)

    conversations = [[{"role": "user", "content": r["question"]}] for r in rows]
    lengths = [len(ids) for ids in tokenizer.apply_chat_template(conversations, add_generation_prompt=True,
                                                                 tokenize=True, return_dict=True)["input_ids"]]
    kept = [{"prompt": c, "question": r["question"], "ground_truth": r["ground_truth"], "id": r["id"],
             "mcq_id": r.get("mcq_id")}
            for c, r, n in zip(conversations, rows, lengths, strict=True) if n <= cfg.max_prompt_length]
    if len(kept) < len(rows):
        log.warning("%d of %d prompts are longer than rl.max_prompt_length %d tokens: left out",
                    len(rows) - len(kept), len(rows), cfg.max_prompt_length)
    prompts_per_update = cfg.batch_size // cfg.num_generations
    if len(kept) < prompts_per_update:
        raise ValueError(f"{len(kept)} prompts of at most rl.max_prompt_length {cfg.max_prompt_length} tokens; an "
                         f"update needs {prompts_per_update} (rl.batch_size / num_generations)")

    curves = CurvesCallback(cfg, curve, heldout_curve)
    every = cfg.eval_every * steps_per_update(cfg)
    held = HeldoutCallback(heldout, reward, cfg, every, curves)
    trainer_class = _trainer_class(algorithm)
    trainer = trainer_class(model=model, reward_funcs=reward_function(reward, cfg, eos_ids, rollouts_file),
                            args=args, train_dataset=Dataset.from_list(kept), processing_class=tokenizer,
                            callbacks=[curves, held, *callbacks])
    held.trainer = trainer
    if heldout and trainer.is_fsdp_enabled:
        raise NotImplementedError("the held-out curve under FSDP (its weights would need gathering): use DeepSpeed "
                                  "or DDP, or no held-out rows")
    start = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    curves.feed(trainer.state)
    if trainer.state.global_step < trainer.state.max_steps:
        raise RuntimeError(f"training stopped at step {trainer.state.global_step} of {trainer.state.max_steps}: "
                           f"checkpoints in {checkpoint_dir} are kept for a resume, no model written")

    if not trainer.is_deepspeed_enabled:  # DeepSpeed ZeRO-3 gathers and writes 16-bit weights itself
        trainer.model.to(getattr(torch, cfg.save_dtype))
    trainer.save_model(str(out_dir))
    state.wait_for_everyone()
    if state.is_main_process:
        if rollouts_file is not None:
            Path(rollouts_path).parent.mkdir(parents=True, exist_ok=True)
            rollouts_file.replace(rollouts_path)
        clear_checkpoints(checkpoint_dir)
    per_update = steps_per_update(cfg)
    train_rows = [{k: v for k, v in row.items() if k not in ("step", *CURVE_TIMINGS)}
                  for row in curve_rows(trainer.state.log_history, cfg)]
    final_heldout = heldout_rows(trainer.state.log_history, cfg)
    return {"algorithm": algorithm, "global_step": trainer.state.global_step, "max_steps": trainer.state.max_steps,
            "updates": trainer.state.global_step // per_update, "steps_per_update": per_update,
            "episodes": trainer.state.global_step // per_update * cfg.batch_size,
            "resumed_from": Path(resume).name if resume else None, "train_loss": result.training_loss,
            "prompts": len(kept), "prompts_too_long": len(rows) - len(kept),
            "gradient_accumulation": trainer.args.gradient_accumulation_steps, "num_processes": state.num_processes,
            "seconds": round(seconds, 2),
            "train": train_rows[-1] if train_rows else {},  # the last update's, no timings (a DVC-tracked report)
            "heldout": {k: v for k, v in final_heldout[-1].items() if k != "step"} if final_heldout else {}}


def _trainer_class(algorithm: str):
    if algorithm == "grpo":
        from trl import GRPOTrainer

        return GRPOTrainer
    from trl import RLOOTrainer

    return RLOOTrainer
