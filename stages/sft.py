"""Stage sft: data/sft/train.jsonl + models/base -> models/sft (stage 1: TRL SFTTrainer under accelerate).

    accelerate launch --config_file configs/accelerate/cpu.yaml stages/sft.py    # what `dvc repro sft` runs

The accelerate config (params: sft.accelerate_config) decides CPU, one GPU, DDP or DeepSpeed ZeRO-3; the script is
the same. Checkpoints go to models/checkpoints/sft (a persistent DVC out): an interrupted run resumes there. The main
process then measures format compliance of models/base and models/sft on the questions of sft.compliance.splits, writes
reports/sft.json and the loss curve, and logs and registers the model in MLflow (medreason-sft@newest).
"""

from contextlib import nullcontext
from pathlib import Path

from medreason.config import load_params
from medreason.data.frames import read_jsonl, read_rows, write_jsonl
from medreason.tracking import CurveLogger, log_dataset, log_model, publish, stage_run

DATA = Path("data/sft/train.jsonl")
SPLITS = Path("data/splits")  # format compliance asks the questions of sft.compliance.splits
BASE = Path("models/base")
OUT = Path("models/sft")
CHECKPOINTS = Path("models/checkpoints/sft")
REPORT = Path("reports/sft.json")
CURVE = Path("reports/plots/sft_loss.csv")
GENERATIONS = Path("reports/sft_generations.jsonl")


def main() -> None:
    from accelerate import PartialState
    from transformers import AutoTokenizer

    from medreason.chat_template import training_template
    from medreason.llm.local import model_fingerprint
    from medreason.train.compliance import format_compliance
    from medreason.train.sft import CURVE_NAMES, CURVE_TIMINGS, train_sft
    from medreason.train.sft_data import build_examples

    params = load_params()
    cfg = params.sft
    state = PartialState()
    tokenizer = AutoTokenizer.from_pretrained(BASE)
    template, how = training_template(tokenizer)
    examples, data_report = build_examples(read_jsonl(DATA), tokenizer, template, cfg.max_length, cfg.overlong)
    if not examples:
        raise SystemExit(f"sft: none of the {data_report['records']} records fits sft.max_length {cfg.max_length}: "
                         f"{data_report['dropped']}")
    if state.is_main_process:
        print(f"sft: chat template {how}; {data_report}")
    run = stage_run("sft", cfg, system_metrics=True) if state.is_main_process else nullcontext()
    with run:
        curve = CurveLogger(CURVE_NAMES, timings=CURVE_TIMINGS)  # train.<name> metrics at each step
        summary = train_sft(examples, BASE, OUT, CHECKPOINTS, cfg, template, base_fingerprint=model_fingerprint(BASE),
                            curve=curve)
        if not state.is_main_process:
            return
        import mlflow

        questions = [r["question"] for split in cfg.compliance.splits
                     for r in read_rows(SPLITS / f"{split}.parquet")][:cfg.compliance.max_questions or None]
        compliance = {name: format_compliance(folder, questions, cfg.compliance.max_new_tokens,
                                              cfg.compliance.batch_size, cfg.compliance.dtype)
                      for name, folder in (("base", BASE), ("sft", OUT))}
        # How this run went (its time, where it resumed) is MLflow's; the DVC-tracked report says what it made.
        seconds, resumed_from = summary.pop("seconds"), summary.pop("resumed_from")
        report = {"chat_template": how, "data": data_report, "train": summary,
                  "format_compliance": {k: v["compliance"] for k, v in compliance.items()},
                  "compliance_questions": len(questions), "compliance_splits": list(cfg.compliance.splits),
                  "max_new_tokens": cfg.compliance.max_new_tokens}
        publish(report, REPORT, execution={"train.seconds": seconds})
        curve.write(CURVE)
        write_jsonl([{"model": name, **ex} for name, c in compliance.items() for ex in c["examples"]], GENERATIONS)
        mlflow.log_artifact(str(GENERATIONS))
        log_dataset(DATA, name="sft", context="training")
        mlflow.set_tags({"chat_template": how, "resumed_from": resumed_from or ""})
        version = log_model(OUT, "medreason-sft")
    print(f"sft: {summary['global_step']} steps (resumed from {resumed_from}), loss {summary['train_loss']:.3f}; "
          f"format compliance base {report['format_compliance']['base']} -> sft {report['format_compliance']['sft']}; "
          f"registered medreason-sft v{version} (@newest)")


if __name__ == "__main__":
    main()
