"""Stage rl: models/sft + data/splits/rl.parquet -> models/rl (stage 2: PPO on verifier rewards, or GRPO / RLOO).

    accelerate launch --config_file configs/accelerate/cpu.yaml stages/rl.py    # what `dvc repro rl` runs

rl.algorithm chooses the trainer: ppo (ours, train/rl/ppo.py) or grpo / rloo (TRL's, train/rl/trl_algos.py); all
use the one Reward (verify.reward's verifier, rl.reward's values). The first rl.heldout questions of the split (by id)
are never trained on: the policy answers them greedily every rl.eval_every updates (reports/plots/rl_heldout.csv).
Checkpoints go to models/checkpoints/rl (a persistent DVC out): an interrupted run resumes there. Then format
compliance of models/sft and models/rl on questions neither trained on (the eval split and the held-out ones),
reports/rl.json, the per-update curve, every rollout back to its MCQ (data/rl/rollouts.jsonl), and the model logged
and registered in MLflow (medreason-rl@newest).
"""

from contextlib import nullcontext
from pathlib import Path

from medreason.config import load_params
from medreason.data.frames import read_rows
from medreason.tracking import CurveLogger, log_dataset, log_model, publish, stage_run

SPLIT = Path("data/splits/rl.parquet")
EVAL_SPLIT = Path("data/splits/eval.parquet")
SFT = Path("models/sft")
OUT = Path("models/rl")
CHECKPOINTS = Path("models/checkpoints/rl")
ROLLOUTS = Path("data/rl/rollouts.jsonl")
CACHE = Path("data/cache/rl")  # an llm_judge reward's replies
REPORT = Path("reports/rl.json")
CURVE = Path("reports/plots/rl_train.csv")
HELDOUT_CURVE = Path("reports/plots/rl_heldout.csv")


def main() -> None:
    from accelerate import PartialState

    from medreason.llm.local import model_fingerprint
    from medreason.train.compliance import format_compliance
    from medreason.train.rl.heldout import HELDOUT_NAMES
    from medreason.train.rl.reward import Reward

    params = load_params()
    cfg = params.rl
    state = PartialState()
    rows = sorted(read_rows(SPLIT), key=lambda r: r["id"])
    heldout, train_rows = rows[:cfg.heldout], rows[cfg.heldout:]
    if not train_rows:
        raise SystemExit(f"rl: the rl split has {len(rows)} problems, all held out (rl.heldout {cfg.heldout})")
    reward = Reward.from_params(params, CACHE / "judge.sqlite")
    run = stage_run("rl", cfg, system_metrics=True) if state.is_main_process else nullcontext()
    with run:
        if cfg.algorithm == "ppo":
            from medreason.train.rl.ppo import CURVE_NAMES, CURVE_TIMINGS, train_ppo as train
        else:
            from functools import partial

            from medreason.train.rl.trl_algos import CURVE_NAMES, CURVE_TIMINGS, train_trl

            train = partial(train_trl, cfg.algorithm)
        curve = CurveLogger(CURVE_NAMES, timings=CURVE_TIMINGS)
        heldout_curve = CurveLogger(HELDOUT_NAMES, prefix="heldout")
        summary = train(train_rows, SFT, OUT, CHECKPOINTS, cfg, reward, heldout=heldout, curve=curve,
                        heldout_curve=heldout_curve, rollouts_path=ROLLOUTS, base_fingerprint=model_fingerprint(SFT))
        if not state.is_main_process:
            return
        import mlflow

        c = params.sft.compliance
        questions = ([r["question"] for r in read_rows(EVAL_SPLIT)] + [r["question"] for r in heldout])[
            :c.max_questions or None]
        compliance = {name: format_compliance(folder, questions, c.max_new_tokens, c.batch_size, c.dtype)["compliance"]
                      for name, folder in (("sft", SFT), ("rl", OUT))}
        seconds, resumed_from = summary.pop("seconds"), summary.pop("resumed_from")
        first, last = (heldout_curve.rows[0], heldout_curve.rows[-1]) if heldout_curve.rows else ({}, {})
        report = {"algorithm": cfg.algorithm, "train_prompts": len(train_rows), "heldout_prompts": len(heldout),
                  "train": summary,
                  "heldout": {"start": {k: v for k, v in first.items() if k != "step"},
                              "end": {k: v for k, v in last.items() if k != "step"}},
                  "format_compliance": compliance, "compliance_questions": len(questions)}
        publish(report, REPORT, execution={"train.seconds": seconds})
        curve.write(CURVE)
        heldout_curve.write(HELDOUT_CURVE)
        if ROLLOUTS.exists():
            mlflow.log_artifact(str(ROLLOUTS))
        log_dataset(SPLIT, name="split_rl", context="training")
        mlflow.set_tags({"resumed_from": str(resumed_from or "")})
        version = log_model(OUT, "medreason-rl")
    print(f"rl: {cfg.algorithm}, {summary.get('updates', summary.get('global_step'))} updates (resumed from "
          f"{resumed_from}); held-out mean reward {first.get('mean_reward')} -> {last.get('mean_reward')}; format "
          f"compliance sft {compliance['sft']} -> rl {compliance['rl']} on {len(questions)}; registered medreason-rl "
          f"v{version} (@newest)")


if __name__ == "__main__":
    main()
