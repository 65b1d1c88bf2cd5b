"""The baseline of bench/ppo.py: TRL 1.12.0's experimental PPOTrainer on the same tiny configuration.

Run by bench/ppo.py with the python of its throw-away venv (trl==1.12.0; see ``TRL_VENV_PINS`` there), never with the
project's venv:

    bench/.cache/trl112-venv/bin/python bench/ppo_trl112.py --base models/base --prompts prompts.json --updates 4

Written as TRL's own example (examples/scripts/ppo/ppo.py) sets it up: policy and reference from the same folder,
value and reward models ``AutoModelForSequenceClassification(num_labels=1)`` of that folder (fresh scalar heads; the
reward is then an untrained classifier, which costs what any reward model of that size costs), a left-padded
tokenizer, prompts as ``input_ids``. Sizes from the command line: every prompt in each update (per-device batch =
the prompt count, 1 mini-batch, no accumulation), ``--response-length`` new tokens, 1 PPO epoch, fp32, CPU, no
gradient checkpointing, no stop token (TRL's default: every response is generated to the full length; the EOS the
policy writes is only counted here), no sample generations, no checkpoints.

Seconds per update: wall-clock between TrainerCallback.on_step_end calls (on_train_begin for the first), so each
update counts its rollout, scoring, PPO step and logging; the first ``--warmup`` updates are reported but not
averaged. Also the process's CPU seconds (all threads) over the same spans, and its peak RSS. Setup (imports, model
loading, trainer construction) is timed separately. Last line: a JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

START = time.perf_counter()

import torch  # noqa: E402
from datasets import Dataset  # noqa: E402
from transformers import (AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer,  # noqa: E402
                          TrainerCallback)

import trl  # noqa: E402
from trl.experimental.ppo import PPOConfig, PPOTrainer  # noqa: E402
from trl.experimental.ppo import ppo_trainer as ppo_module  # noqa: E402


class UpdateClock(TrainerCallback):
    """Wall-clock per PPO update: PPOTrainer.train calls on_step_end once per update (after the optimizer steps,
    the lr scheduler and its log)."""

    def __init__(self):
        self.marks: list[float] = []
        self.cpu: list[float] = []  # the process's CPU seconds (all threads): less sensitive to other load

    def on_train_begin(self, args, state, control, **kwargs):
        self.marks, self.cpu = [time.perf_counter()], [time.process_time()]

    def on_step_end(self, args, state, control, **kwargs):
        self.marks.append(time.perf_counter())
        self.cpu.append(time.process_time())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True)
    parser.add_argument("--prompts", required=True, help="a JSON list of questions (user messages)")
    parser.add_argument("--updates", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--response-length", type=int, default=64)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--learning-rate", type=float, default=5e-7)
    parser.add_argument("--kl-coef", type=float, default=0.03)
    parser.add_argument("--vf-coef", type=float, default=1.0)
    parser.add_argument("--pad-token", default="<|endoftext|>")
    parser.add_argument("--output-dir", required=True)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.updates <= args.warmup:
        parser.error("--updates must exceed --warmup")
    torch.manual_seed(args.seed)

    questions = json.loads(open(args.prompts).read())
    tok = AutoTokenizer.from_pretrained(args.base, padding_side="left")
    tok.pad_token = args.pad_token  # the tokenizer's pad is its EOS: the same distinct pad as the stage's config
    # The prompt as the stage builds it (LocalModel.chat_prompts): the chat template, then tokens without extras.
    texts = [tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
             for q in questions]
    dataset = Dataset.from_dict({"input_ids": [tok(t, add_special_tokens=False)["input_ids"] for t in texts]})
    n = len(questions)

    load = dict(dtype=torch.float32)
    policy = AutoModelForCausalLM.from_pretrained(args.base, **load)
    ref_policy = AutoModelForCausalLM.from_pretrained(args.base, **load)
    value_model = AutoModelForSequenceClassification.from_pretrained(args.base, num_labels=1, **load)
    reward_model = AutoModelForSequenceClassification.from_pretrained(args.base, num_labels=1, **load)
    for m in (value_model, reward_model):
        m.config.pad_token_id = tok.pad_token_id

    config = PPOConfig(
        output_dir=args.output_dir, report_to="none", seed=args.seed,
        per_device_train_batch_size=n, gradient_accumulation_steps=1, num_mini_batches=1, num_ppo_epochs=1,
        local_rollout_forward_batch_size=n, total_episodes=n * args.updates, response_length=args.response_length,
        temperature=args.temperature, stop_token=None, missing_eos_penalty=None,
        learning_rate=args.learning_rate, kl_coef=args.kl_coef, vf_coef=args.vf_coef,
        bf16=False, fp16=False, gradient_checkpointing=False, use_cpu=True,
        num_sample_generations=0, save_strategy="no", logging_steps=1, disable_tqdm=True,
        dataloader_pin_memory=False,
    )

    # Measurement only: what each rollout generated (TRL keeps the full response_length columns without a stop token).
    generated: list[dict] = []
    batch_generation = ppo_module.batch_generation

    def counting_batch_generation(model, queries, *a, **kw):
        query_responses, logitss = batch_generation(model, queries, *a, **kw)
        responses = query_responses[:, queries.shape[1]:]
        eos = responses == tok.eos_token_id
        first_eos = torch.where(eos.any(1), eos.int().argmax(1) + 1, torch.full_like(eos[:, 0], responses.shape[1],
                                                                                     dtype=torch.long))
        generated.append({"tokens": responses.shape[0] * responses.shape[1], "rows": responses.shape[0],
                          "with_eos": int(eos.any(1).sum()), "tokens_to_first_eos": int(first_eos.sum())})
        return query_responses, logitss

    ppo_module.batch_generation = counting_batch_generation

    clock = UpdateClock()
    entries: list[dict] = []

    class KeepLogs(TrainerCallback):
        def on_log(self, _args, state, control, logs=None, **kwargs):  # noqa: ARG002
            entries.append(dict(logs or {}))

    trainer = PPOTrainer(args=config, processing_class=tok, model=policy, ref_model=ref_policy,
                         reward_model=reward_model, train_dataset=dataset, value_model=value_model,
                         callbacks=[clock, KeepLogs()])
    setup = time.perf_counter() - START
    print(f"trl {trl.__version__}: setup {setup:.1f} s; {args.updates} updates of {n} prompts", flush=True)
    trainer.train()
    end = time.perf_counter()
    per_update = [b - a for a, b in zip(clock.marks, clock.marks[1:])]
    cpu_per_update = [b - a for a, b in zip(clock.cpu, clock.cpu[1:])]
    if len(per_update) != args.updates or len(generated) != args.updates:
        raise SystemExit(f"expected {args.updates} updates, clocked {len(per_update)}, generated {len(generated)}")
    for i, (s, g) in enumerate(zip(per_update, generated), 1):
        print(f"update {i}{' (warm-up)' if i <= args.warmup else ''}: {s:.2f} s, "
              f"{g['tokens'] / g['rows']:.1f} tokens per response, {g['with_eos']}/{g['rows']} wrote EOS", flush=True)
    timed = per_update[args.warmup:]
    gen = generated[args.warmup:]
    rows = sum(g["rows"] for g in gen)
    import transformers
    print(json.dumps({
        "trl": trl.__version__, "transformers": transformers.__version__, "torch": torch.__version__,
        "prompts": n, "updates": args.updates, "warmup_updates": args.warmup,
        "seconds_per_update": round(sum(timed) / len(timed), 3),
        "update_seconds": [round(s, 3) for s in per_update],
        "cpu_seconds_per_update": round(sum(cpu_per_update[args.warmup:]) / len(timed), 3),
        "update_cpu_seconds": [round(s, 3) for s in cpu_per_update],
        "threads": torch.get_num_threads(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "setup_seconds": round(setup, 2), "train_seconds": round(end - clock.marks[0], 2),
        "response_length": round(sum(g["tokens"] for g in gen) / rows, 2),
        "responses_with_eos": round(sum(g["with_eos"] for g in gen) / rows, 4),
        "tokens_to_first_eos": round(sum(g["tokens_to_first_eos"] for g in gen) / rows, 2),
        "stop_token": config.stop_token, "prompt_tokens": [len(x) for x in dataset["input_ids"]],
        "eps_logged": [entry.get("eps") for entry in entries if "eps" in entry],
    }))


if __name__ == "__main__":
    main()
