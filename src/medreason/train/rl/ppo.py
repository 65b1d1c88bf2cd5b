"""PPO on verifier rewards, written here on torch + accelerate with TRL 0.13's semantics (METHOD.md section 5).

    accelerate launch --config_file configs/accelerate/cpu.yaml stages/rl.py      # rl.algorithm: ppo

One update: sample one completion per prompt from the policy (stopping at EOS, keeping only the sampled tokens'
log-probs), score it with the Reward, add a per-token KL penalty toward the frozen SFT policy (reference log-probs at
the sampling temperature), estimate advantages by GAE on a value model's estimates, whiten them, then run
``ppo_epochs`` passes of clipped policy and value losses over shuffled mini-batches (one optimizer, as TRL, with an
optional critic learning rate and critic-only warm-up updates). Two of TRL 0.13's costs are gone: it generated every
response to ``response_length`` with EOS disabled, and it kept full-vocabulary scores for every generated token.

Where the score goes is a choice (``score_position``): on the last response token (verl, OpenRLHF), or one past it
(TRL 0.13: onto the value of the state after EOS, which GAE then discounts by lambda before the last token sees it).

Determinism: rollout seeds come from (seed, update, prompt position), mini-batch order from (seed, update, epoch),
dropout is off; a resumed run therefore repeats the updates it lost exactly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import random
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from medreason.config import RLConfig
from medreason.tracking import CurveLogger
from medreason.train.checkpoints import clear_checkpoints, fingerprint, prepare_checkpoints
from medreason.train.rl.heldout import HELDOUT_NAMES, heldout_scores

CURVE_NAMES = ("mean_reward", "correct", "formatted", "kl", "entropy", "policy_loss", "value_loss", "clipfrac",
               "value_clipfrac", "approx_kl", "response_length", "eos", "learning_rate", "seconds")
CURVE_TIMINGS = ("seconds",)
STATE_FILE = "ppo_state.json"
ROLLOUTS_FILE = "rollouts.jsonl"


# ---- the math (tensors [batch, response positions]; masks are bool) ---------------------------------------------
def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask, x, 0.0).sum() / mask.sum().clamp(min=1)


def masked_whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Zero mean (unless ``shift_mean`` is off), unit variance over the masked entries (unbiased variance, as TRL)."""
    mean = masked_mean(x, mask)
    n = mask.sum()
    var = masked_mean((x - mean) ** 2, mask) * (n / (n - 1).clamp(min=1))
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    return out if shift_mean else out + mean


def kl_penalty(logprobs: torch.Tensor, ref_logprobs: torch.Tensor, estimator: str = "k1") -> torch.Tensor:
    """Per-token KL estimate of the policy from the reference at the sampled tokens: k1 = log p - log p_ref (TRL);
    k3 = (r - 1) - log r with r = p_ref / p (never negative, lower variance)."""
    d = logprobs - ref_logprobs
    if estimator == "k1":
        return d
    if estimator == "k3":
        return torch.expm1(-d) + d
    raise ValueError(f"unknown KL estimator {estimator!r}")


def score_index(lengths: torch.Tensor, width: int, position: str) -> torch.Tensor:
    """Where each response's score is added: its last token (index length - 1), or one past it (TRL 0.13) when the
    row has room for it (a response cut at the full width has none: its last token)."""
    last = lengths - 1
    if position == "last_token":
        return last
    if position == "after_last":
        return torch.where(lengths < width, lengths, last)
    raise ValueError(f"unknown score position {position!r}")


def token_rewards(kl: torch.Tensor, scores: torch.Tensor, lengths: torch.Tensor, kl_coef: float,
                  position: str, response_mask: torch.Tensor) -> torch.Tensor:
    """-kl_coef x KL on every response token, plus the score at ``score_index``."""
    rewards = torch.where(response_mask, -kl_coef * kl, 0.0)
    rows = torch.arange(len(scores))
    rewards[rows, score_index(lengths, kl.shape[1], position)] += scores
    return rewards


def gae(rewards: torch.Tensor, values: torch.Tensor, mask: torch.Tensor, gamma: float,
        lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over positions in ``mask`` (the response, plus the score slot when it lies
    one past the last token); returns (advantages, returns = advantages + values). Outside the mask both are 0."""
    values = torch.where(mask, values, 0.0)
    rewards = torch.where(mask, rewards, 0.0)
    advantages = torch.zeros_like(rewards)
    last = torch.zeros(rewards.shape[0], dtype=rewards.dtype)
    width = rewards.shape[1]
    for t in reversed(range(width)):
        next_value = values[:, t + 1] if t + 1 < width else torch.zeros_like(last)
        delta = rewards[:, t] + gamma * next_value - values[:, t]
        last = delta + gamma * lam * last
        advantages[:, t] = last
    advantages = torch.where(mask, advantages, 0.0)
    return advantages, torch.where(mask, advantages + values, 0.0)


def policy_loss(logprobs: torch.Tensor, old_logprobs: torch.Tensor, advantages: torch.Tensor, mask: torch.Tensor,
                clip: float) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO's clipped surrogate: mean over tokens of max(-A r, -A clip(r, 1 - clip, 1 + clip)), r = p / p_old."""
    diff = logprobs - old_logprobs
    ratio = torch.exp(diff)
    unclipped = -advantages * ratio
    clipped = -advantages * torch.clamp(ratio, 1.0 - clip, 1.0 + clip)
    loss = masked_mean(torch.maximum(unclipped, clipped), mask)
    with torch.no_grad():
        stats = {"clipfrac": masked_mean((clipped > unclipped).float(), mask).item(),
                 "approx_kl": masked_mean(0.5 * diff ** 2, mask).item()}
    return loss, stats


def value_loss(values: torch.Tensor, old_values: torch.Tensor, returns: torch.Tensor, mask: torch.Tensor,
               clip: float) -> tuple[torch.Tensor, dict[str, float]]:
    """0.5 x max((v - R)^2, (v_clipped - R)^2), v_clipped within ``clip`` of the rollout's value."""
    clipped = old_values + torch.clamp(values - old_values, -clip, clip)
    a, b = (values - returns) ** 2, (clipped - returns) ** 2
    loss = 0.5 * masked_mean(torch.maximum(a, b), mask)
    with torch.no_grad():
        stats = {"value_clipfrac": masked_mean((b > a).float(), mask).item()}
    return loss, stats


# ---- models -------------------------------------------------------------------------------------------------------
class PolicyAndValue(torch.nn.Module):
    """The policy and the value model, trained by one optimizer (as TRL's wrapper). The value model is a sequence
    classifier with one label: its backbone's hidden states through its scalar head give a value per position."""

    def __init__(self, policy, value) -> None:
        super().__init__()
        self.policy, self.value = policy, value

    def forward(self, ids, mask, keep: int, temperature: float, policy: bool = True):
        """The policy's logits at ``temperature`` (None when ``policy`` is off) and the values, for the last
        ``keep`` positions."""
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        logits = None
        if policy:
            logits = self.policy(input_ids=ids, attention_mask=mask, position_ids=positions,
                                 logits_to_keep=keep).logits.float() / temperature
        backbone = getattr(self.value, self.value.base_model_prefix)
        hidden = backbone(input_ids=ids, attention_mask=mask, position_ids=positions).last_hidden_state
        return logits, self.value.score(hidden[:, -keep:]).squeeze(-1).float()


def set_pad_token(tokenizer, cfg: RLConfig) -> None:
    """Make pad differ from EOS (a reply's end and its padding must tell apart), with ``rl.pad_token``."""
    if tokenizer.pad_token is not None and tokenizer.pad_token_id != tokenizer.eos_token_id:
        return
    if cfg.pad_token is None:
        raise ValueError(f"rl.pad_token: the tokenizer's pad is its EOS {tokenizer.eos_token!r} (or missing); name "
                         f"another token of its vocabulary to pad with")
    if cfg.pad_token not in tokenizer.get_vocab() or cfg.pad_token == tokenizer.eos_token:
        raise ValueError(f"rl.pad_token {cfg.pad_token!r} is not a token of the policy's vocabulary other than EOS")
    tokenizer.pad_token = cfg.pad_token


def load_models(policy_dir: str | Path, cfg: RLConfig):
    """Policy, frozen reference and value model (default: the policy's backbone with a fresh scalar head), dropout
    off, fp32 master weights, and the policy's tokenizer with a pad that is not its EOS."""
    from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(policy_dir)
    set_pad_token(tokenizer, cfg)
    policy = AutoModelForCausalLM.from_pretrained(policy_dir, dtype=torch.float32)
    # The reference is only read: in bf16 when training is (half the memory on each GPU).
    ref_dtype = torch.bfloat16 if cfg.bf16 else torch.float32
    ref = AutoModelForCausalLM.from_pretrained(policy_dir, dtype=ref_dtype).eval().requires_grad_(False)
    value_dir = cfg.value_model or policy_dir
    if cfg.value_model and AutoTokenizer.from_pretrained(value_dir).get_vocab() != tokenizer.get_vocab():
        raise ValueError(f"rl.value_model: {value_dir} must share the policy's tokenizer (it reads the policy's ids)")
    value = AutoModelForSequenceClassification.from_pretrained(value_dir, num_labels=1, dtype=torch.float32)
    for model in (policy, ref, value):
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0  # the ratio of new to old log-probs must be 1 before the first step
    if cfg.gradient_checkpointing:
        policy.gradient_checkpointing_enable()
        value.gradient_checkpointing_enable()
    return policy, ref, value, tokenizer


# ---- rollouts -----------------------------------------------------------------------------------------------------
def episode_rows(n_rows: int, update: int, batch_size: int, seed: int) -> list[int]:
    """The prompt positions of one update: consecutive slices of one seeded permutation per pass over the prompts."""
    orders: dict[int, list[int]] = {}
    out = []
    for k in range(update * batch_size, (update + 1) * batch_size):
        if k // n_rows not in orders:
            orders[k // n_rows] = order = list(range(n_rows))
            random.Random(seed * 1_000_003 + k // n_rows).shuffle(order)
        out.append(orders[k // n_rows][k % n_rows])
    return out


def batch_tensors(prompts: Sequence[list[int]], responses: Sequence[list[int]], pad: int, width: int):
    """Left-padded prompts then right-padded responses: ids and attention mask [batch, P + width], the response
    tokens [batch, width] and their lengths. Columns past a response's end are pad, masked from attention."""
    p_width = max(len(p) for p in prompts)
    n = len(prompts)
    ids = torch.full((n, p_width + width), pad, dtype=torch.long)
    mask = torch.zeros((n, p_width + width), dtype=torch.long)
    for i, (p, r) in enumerate(zip(prompts, responses)):
        ids[i, p_width - len(p):p_width] = torch.tensor(p)
        ids[i, p_width:p_width + len(r)] = torch.tensor(r, dtype=torch.long)
        mask[i, p_width - len(p):p_width + len(r)] = 1
    lengths = torch.tensor([len(r) for r in responses])
    return ids, mask, ids[:, p_width:], lengths


def sequence_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits, dim=-1).gather(-1, tokens[..., None]).squeeze(-1)


# ---- the loop -----------------------------------------------------------------------------------------------------
# Params that do not change what is trained: a resume may change them.
NOT_TRAINING = ("accelerate_config", "save_steps", "eval_every", "eval_max_new_tokens", "save_dtype")


def ppo_fingerprint(rows: Sequence[dict], cfg: RLConfig, num_processes: int, base_fingerprint: str) -> str:
    training = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in NOT_TRAINING}
    return fingerprint([r["id"] for r in rows], training, num_processes, base_fingerprint)


def train_ppo(rows: Sequence[dict[str, Any]], policy_dir: str | Path, out_dir: str | Path,
              checkpoint_dir: str | Path, cfg: RLConfig, reward, heldout: Sequence[dict[str, Any]] = (),
              curve: CurveLogger | None = None, heldout_curve: CurveLogger | None = None,
              rollouts_path: str | Path | None = None, base_fingerprint: str = "") -> dict[str, Any]:
    """PPO from ``policy_dir`` on ``rows`` (id, mcq_id, question, ground_truth); the policy goes to ``out_dir``.

    Checkpoints every ``cfg.save_steps`` updates in ``checkpoint_dir`` (resumed by an identical re-run, cleared when
    finished); every rollout (update, prompt id, mcq id, completion, reward) to ``rollouts_path``; per-update figures
    to ``curve``, held-out figures every ``cfg.eval_every`` updates to ``heldout_curve``. Returns the run's summary.
    """
    from accelerate import Accelerator, PartialState
    from accelerate.utils import broadcast_object_list, gather_object, set_seed
    from transformers import get_scheduler

    from medreason.llm.local import LocalModel

    curve = curve if curve is not None else CurveLogger(CURVE_NAMES, timings=CURVE_TIMINGS)
    heldout_curve = heldout_curve if heldout_curve is not None else CurveLogger(HELDOUT_NAMES, prefix="heldout")
    checkpoint_dir = Path(checkpoint_dir)
    set_seed(cfg.seed)  # the fresh value head
    policy, ref, value, tokenizer = load_models(policy_dir, cfg)
    runtime = LocalModel.wrap(ref, tokenizer)
    prompts = runtime.chat_prompts([[{"role": "user", "content": r["question"]}] for r in rows])
    too_long = sum(len(p) > cfg.max_prompt_length for p in prompts)
    rows = [r for r, p in zip(rows, prompts) if len(p) <= cfg.max_prompt_length]
    prompts = [p for p in prompts if len(p) <= cfg.max_prompt_length]
    if not rows:
        raise ValueError(f"rl: no prompt fits rl.max_prompt_length {cfg.max_prompt_length}")

    procs = PartialState().num_processes
    mini = cfg.batch_size // cfg.mini_batches // procs  # one process's rollouts per optimizer step
    if cfg.batch_size % (cfg.mini_batches * procs) or mini % cfg.per_device_batch_size:
        raise ValueError(f"rl.batch_size {cfg.batch_size} must split into {cfg.mini_batches} mini-batches x {procs} "
                         f"processes x micro-batches of rl.per_device_batch_size {cfg.per_device_batch_size}")
    accelerator = Accelerator(mixed_precision="bf16" if cfg.bf16 else "no",
                              gradient_accumulation_steps=mini // cfg.per_device_batch_size)
    model = PolicyAndValue(policy, value)
    critic_lr = cfg.critic_learning_rate or cfg.learning_rate
    optimizer = torch.optim.AdamW([{"params": policy.parameters(), "lr": cfg.learning_rate},
                                   {"params": value.parameters(), "lr": critic_lr}], weight_decay=0.0,
                                  fused=True)  # one kernel per step: on a CPU 10x faster than the per-tensor loop
    updates = cfg.updates
    scheduler = get_scheduler(cfg.lr_scheduler, optimizer, num_warmup_steps=int(cfg.warmup_ratio * updates),
                              num_training_steps=updates)  # stepped once per update, as TRL
    model, optimizer = accelerator.prepare(model, optimizer)
    ref.to(accelerator.device)  # frozen: not prepared, so checkpoints do not carry it (each GPU holds a copy)

    choice = [None]
    if accelerator.is_main_process:
        choice = [prepare_checkpoints(checkpoint_dir, ppo_fingerprint(rows, cfg, procs, base_fingerprint), STATE_FILE)]
    broadcast_object_list(choice)
    start_update, rollouts_kept = 0, 0
    if choice[0]:
        accelerator.load_state(choice[0])
        state = json.loads((Path(choice[0]) / STATE_FILE).read_text())
        start_update, rollouts_kept = state["update"], state["rollouts"]
        scheduler.load_state_dict(state["scheduler"])
        for row in state["curve"]:
            curve.log(**row)
        for row in state["heldout"]:
            heldout_curve.log(**row)
    rollouts_file = checkpoint_dir / ROLLOUTS_FILE
    if accelerator.is_main_process:
        kept = rollouts_file.read_text().splitlines(keepends=True)[:rollouts_kept] if rollouts_file.exists() else []
        rollouts_file.write_text("".join(kept))

    def evaluate(update: int) -> None:
        if not heldout:
            return
        with _generation_model(accelerator, model) as unwrapped:
            if accelerator.is_main_process:
                heldout_curve.log(update, **heldout_scores(LocalModel.wrap(unwrapped.policy, tokenizer), heldout,
                                                           reward, cfg.eval_max_new_tokens, cfg.rollout_batch_size))
        accelerator.wait_for_everyone()

    local = cfg.batch_size // procs
    total_rollouts = rollouts_kept
    started = time.perf_counter()
    if start_update == 0:
        evaluate(0)
    for update in range(start_update, updates):
        tick = time.perf_counter()
        positions = episode_rows(len(rows), update, cfg.batch_size, cfg.seed)
        mine = positions[accelerator.process_index * local:(accelerator.process_index + 1) * local]
        seeds = [cfg.seed * 1_000_003 + update * cfg.batch_size + accelerator.process_index * local + k
                 for k in range(local)]
        # ---- rollout: sample, score, reference and value estimates
        with _generation_model(accelerator, model) as unwrapped, accelerator.autocast():
            gens = LocalModel.wrap(unwrapped.policy, tokenizer).generate(
                [prompts[i] for i in mine], cfg.response_length, cfg.temperature, seeds=seeds, top_k=cfg.top_k,
                batch_size=cfg.rollout_batch_size)
        scored = reward.score([g.text for g in gens], [rows[i]["ground_truth"] for i in mine],
                              [rows[i]["question"] for i in mine])
        scores = torch.tensor([s.reward for s in scored], dtype=torch.float32)
        finished = torch.tensor([g.finished for g in gens])
        scores = scores - cfg.missing_eos_penalty * (~finished).float()
        longest = max(g.completion_tokens for g in gens)
        width = min(longest + 1, cfg.response_length) if cfg.score_position == "after_last" else longest
        ids, mask, tokens, lengths = batch_tensors([prompts[i] for i in mine], [g.token_ids for g in gens],
                                                   tokenizer.pad_token_id, width)
        response_mask = torch.arange(width)[None, :] < lengths[:, None]
        value_mask = response_mask.clone()
        value_mask[torch.arange(local), score_index(lengths, width, cfg.score_position)] = True
        old_logprobs = torch.zeros((local, width))
        for i, g in enumerate(gens):
            old_logprobs[i, :len(g.logprobs)] = torch.tensor(g.logprobs)
        ref_logprobs, old_values = _score_batches(accelerator, model, ref, ids, mask, tokens, width, cfg)
        with torch.no_grad():
            kl = torch.where(response_mask, kl_penalty(old_logprobs, ref_logprobs, cfg.kl_estimator), 0.0)
            rewards = token_rewards(kl, scores, lengths, cfg.kl_coef, cfg.score_position, response_mask)
            if cfg.whiten_rewards:
                rewards = torch.where(value_mask, masked_whiten(rewards, value_mask, shift_mean=False), 0.0)
            advantages, returns = gae(rewards, old_values, value_mask, cfg.gamma, cfg.lam)
            advantages = torch.where(response_mask, masked_whiten(advantages, response_mask), 0.0)
        batch = {"ids": ids, "mask": mask, "tokens": tokens, "old_logprobs": old_logprobs, "old_values": old_values,
                 "advantages": advantages, "returns": returns, "response_mask": response_mask,
                 "value_mask": value_mask}

        # ---- optimisation: ppo_epochs passes of mini-batches, micro-batches accumulated
        stats: dict[str, list[float]] = {k: [] for k in ("policy_loss", "value_loss", "clipfrac", "value_clipfrac",
                                                          "approx_kl", "entropy")}
        critic_only = update < cfg.critic_warmup_updates
        model.train()
        device = accelerator.device
        for epoch in range(cfg.ppo_epochs):
            order = torch.randperm(local, generator=torch.Generator().manual_seed(cfg.seed + 7919 * update + epoch))
            for m in range(cfg.mini_batches):
                for start in range(m * mini, (m + 1) * mini, cfg.per_device_batch_size):
                    idx = order[start:start + cfg.per_device_batch_size]
                    mb = {k: v[idx].to(device) for k, v in batch.items()}
                    with accelerator.accumulate(model), accelerator.autocast():
                        logits, values = model(mb["ids"], mb["mask"], width + 1, cfg.temperature)
                        logits, values = logits[:, :-1], values[:, :-1]
                        new_logprobs = sequence_logprobs(logits, mb["tokens"])
                        pg, pg_stats = policy_loss(new_logprobs, mb["old_logprobs"], mb["advantages"],
                                                   mb["response_mask"], cfg.clip_range)
                        vf, vf_stats = value_loss(values, mb["old_values"], mb["returns"], mb["value_mask"],
                                                  cfg.value_clip_range)
                        loss = cfg.vf_coef * vf if critic_only else pg + cfg.vf_coef * vf
                        accelerator.backward(loss)
                        optimizer.step()
                        optimizer.zero_grad()
                    with torch.no_grad():
                        probs = torch.softmax(logits, dim=-1)
                        entropy = masked_mean(-(probs * torch.log_softmax(logits, dim=-1)).sum(-1), mb["response_mask"])
                    for k, v in {"policy_loss": pg.item(), "value_loss": vf.item(), "entropy": entropy.item(),
                                 **pg_stats, **vf_stats}.items():
                        stats[k].append(v)
        model.eval()
        learning_rate = scheduler.get_last_lr()[0]
        scheduler.step()

        # ---- bookkeeping: rollouts, curve, held-out, checkpoint
        records = [{"update": update, "id": rows[i]["id"], "mcq_id": rows[i].get("mcq_id"), "completion": g.text,
                    "tokens": g.completion_tokens, "finished": g.finished, "reward": s.reward, "correct": s.correct,
                    "formatted": s.formatted, "reason": s.reason} for i, g, s in zip(mine, gens, scored)]
        records = gather_object(records)
        metrics = {k: _mean(gather_object([sum(v) / len(v)])) for k, v in stats.items()}
        shared = gather_object([[float(scores.mean()), sum(s.correct for s in scored) / local,
                                 sum(s.formatted for s in scored) / local, float(kl.sum(1).mean()),
                                 float(lengths.float().mean()), float(finished.float().mean())]])
        columns = list(zip(*shared))
        if accelerator.is_main_process:
            with open(rollouts_file, "a", encoding="utf-8") as f:
                f.writelines(json.dumps(r) + "\n" for r in records)
            total_rollouts += len(records)
            curve.log(update + 1, mean_reward=_mean(columns[0]), correct=_mean(columns[1]),
                      formatted=_mean(columns[2]), kl=_mean(columns[3]), response_length=_mean(columns[4]),
                      eos=_mean(columns[5]), learning_rate=learning_rate,
                      seconds=round(time.perf_counter() - tick, 2), **{k: round(v, 6) for k, v in metrics.items()})
        done = update + 1
        if cfg.eval_every and done % cfg.eval_every == 0 or done == updates:
            evaluate(done)
        if done % cfg.save_steps == 0 and done < updates:
            _save_checkpoint(accelerator, checkpoint_dir / f"checkpoint-{done}", done, total_rollouts, scheduler,
                             curve, heldout_curve)

    seconds = time.perf_counter() - started
    _save_policy(accelerator, model, tokenizer, out_dir, cfg.save_dtype)
    if accelerator.is_main_process:
        if rollouts_path is not None:
            Path(rollouts_path).parent.mkdir(parents=True, exist_ok=True)
            rollouts_file.replace(rollouts_path)
        clear_checkpoints(checkpoint_dir)
    accelerator.wait_for_everyone()
    return {"updates": updates, "episodes": updates * cfg.batch_size, "resumed_from": start_update or None,
            "prompts": len(rows), "prompts_too_long": too_long, "num_processes": procs,
            "gradient_accumulation": accelerator.gradient_accumulation_steps, "seconds": round(seconds, 2)}


def _mean(xs: Sequence[float]) -> float:
    return round(sum(xs) / len(xs), 6)


def _score_batches(accelerator, model, ref, ids, mask, tokens, width: int, cfg: RLConfig):
    """Reference log-probs and the value model's estimates of a rollout batch, in chunks of rollout_batch_size."""
    ref_lp, values = [], []
    with torch.no_grad(), accelerator.autocast():
        for start in range(0, len(ids), cfg.rollout_batch_size):
            sl = slice(start, start + cfg.rollout_batch_size)
            i, m = ids[sl].to(accelerator.device), mask[sl].to(accelerator.device)
            pos = (m.cumsum(-1) - 1).clamp(min=0)
            logits = ref(input_ids=i, attention_mask=m, position_ids=pos, logits_to_keep=width + 1).logits
            ref_lp.append(sequence_logprobs(logits[:, :-1].float().cpu() / cfg.temperature, tokens[sl]))
            _, v = model(i, m, width + 1, cfg.temperature, policy=False)  # through the wrapper: DDP, ZeRO-3
            values.append(v[:, :-1].cpu())
    return torch.cat(ref_lp), torch.cat(values)


@contextlib.contextmanager
def _generation_model(accelerator, model):
    """The unwrapped model in eval mode for generation; under DeepSpeed ZeRO-3 with its parameters gathered."""
    unwrapped = accelerator.unwrap_model(model)
    gather = contextlib.nullcontext()
    if accelerator.state.deepspeed_plugin is not None and accelerator.state.deepspeed_plugin.zero_stage == 3:
        import deepspeed

        gather = deepspeed.zero.GatheredParameters(list(model.parameters()))
    with gather, torch.no_grad():
        was_training = unwrapped.training
        unwrapped.eval()
        yield unwrapped
        unwrapped.train(was_training)


def _save_checkpoint(accelerator, path: Path, update: int, rollouts: int, scheduler, curve, heldout_curve) -> None:
    """Policy, value model, optimizer and RNG states, then the loop's state file (last: a checkpoint without it was
    interrupted); the previous checkpoint is removed once this one is complete."""
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        state = {"update": update, "rollouts": rollouts, "scheduler": scheduler.state_dict(), "curve": curve.rows,
                 "heldout": heldout_curve.rows}
        (path / STATE_FILE).write_text(json.dumps(state, default=float))
        for old in path.parent.glob("checkpoint-*"):
            if old != path:
                shutil.rmtree(old)
    accelerator.wait_for_everyone()


def _save_policy(accelerator, model, tokenizer, out_dir: str | Path, dtype: str) -> None:
    """Only the policy's weights (the authors' fix of TRL's save under DeepSpeed), in ``dtype``, with the tokenizer
    whose pad the rollouts used."""
    state = accelerator.get_state_dict(model)
    if accelerator.is_main_process:
        policy = accelerator.unwrap_model(model).policy
        weights = {k.removeprefix("policy."): v.to(getattr(torch, dtype)) for k, v in state.items()
                   if k.startswith("policy.")}
        policy.config.pad_token_id = tokenizer.pad_token_id
        policy.save_pretrained(str(out_dir), state_dict=weights)
        tokenizer.save_pretrained(str(out_dir))
    accelerator.wait_for_everyone()
