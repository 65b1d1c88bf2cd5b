"""Benchmark: seconds per PPO update of the rl stage's loop (train/rl/ppo.py) against TRL 1.12.0's PPOTrainer.

    python bench/ppo.py               # 8 prompts, 64-token responses, 1 warm-up + 3 timed updates per side
    python bench/ppo.py --updates 2   # fewer timed updates

One fixed tiny configuration on both sides: SmolLM2-135M (models/base; built into bench/.cache/base with
``prepare_base_model`` when models/base is absent) as policy, frozen reference and value model (its backbone with a
fresh scalar head); 8 real questions (the first 8 "Open-ended Verifiable Question"s of
../shared/data/medqa_demo_processed.json, else data/samples/medqa_sample.jsonl, said so) rendered by the chat
template; every prompt in every update (batch 8, 1 mini-batch, micro-batch 8, no accumulation), 1 PPO epoch,
response_length 64, temperature 0.7 over the whole vocabulary, lr 5e-7, kl_coef 0.03, vf_coef 1.0, fp32, CPU, no
gradient checkpointing, pad ``<|endoftext|>`` (the tokenizer pads with its EOS), no checkpoints, no evaluation.

* ``seconds_per_update``: ``medreason.train.rl.ppo.train_ppo`` with the stage's Reward (format gate + the default
  verifier); per update the curve's ``seconds`` column (rollout, reward, reference and value passes, PPO step,
  bookkeeping); generation stops at EOS.
* ``trl_seconds_per_update`` (the baseline): bench/ppo_trl112.py, TRL 1.12.0's ``trl.experimental.ppo.PPOTrainer``
  set up as TRL's example script does, run by the python of a throw-away venv (bench/.cache/trl112-venv, created
  here when missing; trl 1.12.0 on the same torch / transformers / accelerate as the project, so only the trainer
  differs); wall-clock between its per-update callbacks. Its reward is a sequence classifier of the same model
  (``num_labels=1``, an untrained head: TRL 1.12 scores with a reward model only). No stop token, TRL's default:
  it generates every response to the full response_length (``trl_response_length``); how many wrote EOS within it
  is reported too.

Each side: the first update untimed (warm-up: kernels, allocator), the mean of the others; setup (model loading,
trainer construction) reported apart. ``speedup`` = trl_seconds_per_update / seconds_per_update. Also per side: the
process's CPU seconds (all threads) per timed update (``cpu_speedup``; OpenMP's spin-waits count in it), and the
peak RSS of the process (ours: the benchmark's own process, the reward's embedding model included).

The machine has 2 cores: a full run takes tens of minutes. Other load on the machine inflates both sides, and at 2
torch threads it does so erratically (an OpenMP barrier waits for a busy core: a small matmul then costs a scheduler
slice, ~100x its work): on a machine others are using, ``--threads 1`` gives steadier figures. Last line: JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
DEMO = ROOT.parent / "shared" / "data" / "medqa_demo_processed.json"
SAMPLES = ROOT / "data" / "samples" / "medqa_sample.jsonl"
TRL_VENV = CACHE / "trl112-venv"
# trl 1.12.0 asks for transformers>=4.56.2, accelerate>=1.4.0, datasets>=4.7.0: the project's own versions of
# those, so the comparison is of the trainers alone.
TRL_VENV_PINS = ["trl==1.12.0", "torch==2.13.0", "transformers==5.23.0", "accelerate==1.15.0", "datasets==5.2.0"]
PAD_TOKEN = "<|endoftext|>"


def log(msg: str) -> None:
    print(msg, flush=True)


def base_model(requested: Path | None) -> Path:
    """models/base if it is there (or the folder asked for), else bench/.cache/base, built once."""
    if requested is not None:
        if not (requested / "model.safetensors").is_file():
            sys.exit(f"bench/ppo.py: no model.safetensors in {requested}")
        return requested
    for folder in (ROOT / "models" / "base", CACHE / "base"):
        if (folder / "model.safetensors").is_file():
            return folder
    from medreason.base_model import prepare_base_model
    from medreason.config import ModelConfig

    folder = CACHE / "base"
    log(f"building {folder} from {ModelConfig().base} (models/base is absent)")
    prepare_base_model(ModelConfig().base, folder)
    return folder


def questions(n: int) -> tuple[list[dict], str]:
    """n rl rows (id, mcq_id, question, ground_truth) of real medical questions, and where they came from."""
    if DEMO.is_file():
        records = json.loads(DEMO.read_text())[:n]
        return [{"id": f"demo-{i}", "mcq_id": None, "question": r["Open-ended Verifiable Question"],
                 "ground_truth": r["Ground-True Answer"]} for i, r in enumerate(records)], "medqa_demo_processed.json"
    log(f"{DEMO} is absent: taking the questions of {SAMPLES.relative_to(ROOT)} instead")
    lines = SAMPLES.read_text().splitlines()[:n]
    records = [json.loads(line) for line in lines]
    return [{"id": f"sample-{i}", "mcq_id": None, "question": r["question"], "ground_truth": r["answer"]}
            for i, r in enumerate(records)], SAMPLES.name


def trl_python() -> Path:
    """The throw-away venv's python with trl 1.12.0, made (or repaired) here."""
    python = TRL_VENV / "bin" / "python"
    check = [str(python), "-c", "import trl, transformers, torch; assert trl.__version__ == '1.12.0'"]
    if python.is_file() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    log(f"creating {TRL_VENV.relative_to(ROOT)}: {' '.join(TRL_VENV_PINS)}")
    subprocess.run([sys.executable, "-m", "venv", str(TRL_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *TRL_VENV_PINS], check=True)
    subprocess.run(check, check=True)
    return python


def run_trl(base: Path, rows: list[dict], updates: int, warmup: int, response_length: int, tmp: Path,
            threads: int | None) -> dict:
    python = trl_python()
    prompts = tmp / "prompts.json"
    prompts.write_text(json.dumps([r["question"] for r in rows]))
    logfile = CACHE / "ppo_trl112.log"
    cmd = [str(python), str(ROOT / "bench" / "ppo_trl112.py"), "--base", str(base), "--prompts", str(prompts),
           "--updates", str(updates), "--warmup", str(warmup), "--response-length", str(response_length),
           "--pad-token", PAD_TOKEN, "--output-dir", str(tmp / "trl-out"),
           *(["--threads", str(threads)] if threads else [])]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": ""}  # nothing of the project's venv leaks in
    last = ""
    with open(logfile, "w") as err, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env,
                                                     cwd=tmp) as proc:
        for line in proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("{") and line.endswith("}") and '"seconds_per_update"' in line:
                last = line
            elif not line.startswith("{"):  # TRL's per-update metric dicts go to the log only
                log(f"  [trl 1.12] {line}")
    if proc.returncode or not last:
        sys.exit(f"bench/ppo.py: the TRL 1.12 run failed (exit {proc.returncode}); see {logfile}")
    return json.loads(last)


def run_ours(base: Path, rows: list[dict], updates: int, warmup: int, response_length: int, tmp: Path) -> dict:
    from medreason.config import RLConfig
    from medreason.tracking import CurveLogger
    from medreason.train.rl.ppo import CURVE_NAMES, CURVE_TIMINGS, train_ppo
    from medreason.train.rl.reward import Reward
    from medreason.verify import load_verifier

    n = len(rows)
    cfg = RLConfig(batch_size=n, mini_batches=1, per_device_batch_size=n, rollout_batch_size=n, ppo_epochs=1,
                   response_length=response_length, total_episodes=n * updates, temperature=0.7, top_k=0,
                   learning_rate=5e-7, kl_coef=0.03, vf_coef=1.0, eval_every=0, bf16=False,
                   gradient_checkpointing=False, value_model=None, pad_token=PAD_TOKEN, save_steps=10_000,
                   save_dtype="float32")

    class ClockedCurve(CurveLogger):
        """The stage's curve, noting the process's CPU seconds at each row: train_ppo logs one row at the end of
        each update, so consecutive rows bound one update."""

        cpu: list[float] = []

        def log(self, step, **values):
            self.cpu = [*self.cpu, time.process_time()]
            return super().log(step, **values)

    start = time.perf_counter()
    reward = Reward(load_verifier("default"))
    curve = ClockedCurve(CURVE_NAMES, timings=CURVE_TIMINGS)
    summary = train_ppo(rows, base, tmp / "ours" / "policy", tmp / "ours" / "ckpt", cfg, reward, curve=curve,
                        rollouts_path=tmp / "ours" / "rollouts.jsonl", base_fingerprint="bench")
    total = time.perf_counter() - start
    if len(curve.rows) != updates:
        sys.exit(f"bench/ppo.py: expected {updates} curve rows from train_ppo, got {len(curve.rows)}")
    per_update = [row["seconds"] for row in curve.rows]
    for i, row in enumerate(curve.rows, 1):
        log(f"  [ours] update {i}{' (warm-up)' if i <= warmup else ''}: {row['seconds']:.2f} s, "
            f"{row['response_length']:.1f} tokens per response, EOS in {row['eos']:.0%}, "
            f"mean reward {row['mean_reward']:.3f}")
    timed = curve.rows[warmup:]
    cpu = [b - a for a, b in zip(curve.cpu, curve.cpu[1:])][warmup - 1:] if warmup else []  # updates warmup+1...
    return {"seconds_per_update": round(sum(r["seconds"] for r in timed) / len(timed), 3),
            "update_seconds": per_update,
            "cpu_seconds_per_update": round(sum(cpu) / len(cpu), 3) if cpu else None,
            "update_cpu_seconds": [round(c, 3) for c in cpu],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "response_length": round(sum(r["response_length"] for r in timed) / len(timed), 2),
            "responses_with_eos": round(sum(r["eos"] for r in timed) / len(timed), 4),
            "setup_seconds": round(total - summary["seconds"], 2),  # loading, reward, final save
            "train_seconds": summary["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=8)
    parser.add_argument("--response-length", type=int, default=64)
    parser.add_argument("--updates", type=int, default=3, help="timed updates, after --warmup untimed ones")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--base", type=Path, default=None, help="default: models/base, else bench/.cache/base")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads on both sides (default: torch's, the cores); 1 on a busy machine")
    args = parser.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    CACHE.mkdir(parents=True, exist_ok=True)
    base = base_model(args.base)
    rows, source = questions(args.prompts)
    total_updates = args.warmup + args.updates
    log(f"model {base}; {len(rows)} prompts from {source}; {args.response_length}-token responses, 1 PPO epoch; "
        f"{args.warmup} warm-up + {args.updates} timed updates per side; {torch.get_num_threads()} torch threads")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        log("TRL 1.12.0 experimental PPOTrainer (baseline):")
        trl = run_trl(base, rows, total_updates, args.warmup, args.response_length, tmp, args.threads)
        log(f"  -> {trl['seconds_per_update']:.2f} s per update, {trl['response_length']:.1f} tokens per response")
        log("medreason train_ppo:")
        ours = run_ours(base, rows, total_updates, args.warmup, args.response_length, tmp)
        log(f"  -> {ours['seconds_per_update']:.2f} s per update, {ours['response_length']:.1f} tokens per response")
    print(json.dumps({
        "config": {"prompts": len(rows), "response_length": args.response_length, "ppo_epochs": 1,
                   "mini_batches": 1, "micro_batch": len(rows), "temperature": 0.7, "dtype": "float32",
                   "warmup_updates": args.warmup, "timed_updates": args.updates, "questions": source,
                   "model": base.name, "threads": torch.get_num_threads(), "trl_threads": trl["threads"]},
        "seconds_per_update": ours["seconds_per_update"],
        "trl_seconds_per_update": trl["seconds_per_update"],
        "speedup": round(trl["seconds_per_update"] / ours["seconds_per_update"], 3),
        "response_length": ours["response_length"],
        "trl_response_length": trl["response_length"],
        "responses_with_eos": ours["responses_with_eos"],
        "trl_responses_with_eos": trl["responses_with_eos"],
        "trl_stop_token": trl["stop_token"],
        "cpu_seconds_per_update": ours["cpu_seconds_per_update"],
        "trl_cpu_seconds_per_update": trl["cpu_seconds_per_update"],
        "cpu_speedup": round(trl["cpu_seconds_per_update"] / ours["cpu_seconds_per_update"], 3)
        if ours["cpu_seconds_per_update"] else None,
        "peak_rss_mb": ours["peak_rss_mb"], "trl_peak_rss_mb": trl["peak_rss_mb"],
        "update_seconds": ours["update_seconds"], "trl_update_seconds": trl["update_seconds"],  # warm-up first
        "update_cpu_seconds": ours["update_cpu_seconds"],  # timed updates only, as the next
        "trl_update_cpu_seconds": trl["update_cpu_seconds"][args.warmup:],
        "setup_seconds": ours["setup_seconds"], "trl_setup_seconds": trl["setup_seconds"],
        "trl_versions": {k: trl[k] for k in ("trl", "transformers", "torch")},
    }))


if __name__ == "__main__":
    main()
