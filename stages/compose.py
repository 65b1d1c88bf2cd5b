"""Stage compose: verified trajectories -> the SFT set {Question, Complex_CoT, Response} in data/sft/train.jsonl.

    python stages/compose.py                  # what `dvc repro compose` runs

Two teacher calls per verified trajectory (natural Complex_CoT, then the Response); a Response that does not commit
to the ground truth is dropped and counted, a Complex_CoT whose conclusion does not is handled by
search.cot_unverified (reports/compose.json, with the length distributions). With search.source: file, the user's SFT
file (HuatuoGPT-o1 format) is read instead, and validated the same way downstream.
"""

from pathlib import Path

from medreason.config import load_params
from medreason.data.frames import read_jsonl, write_jsonl
from medreason.tracking import log_dataset, publish, stage_run

TRAJECTORIES = Path("data/search/trajectories.jsonl")
OUT = Path("data/sft/train.jsonl")
REPORT = Path("reports/compose.json")
CACHE = Path("data/cache/compose")


def main() -> None:
    params = load_params()
    cfg = params.search
    CACHE.mkdir(parents=True, exist_ok=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with stage_run("compose", cfg):
        from medreason.search.compose import compose, length_stats, read_sft_file

        if cfg.source == "file":
            records = read_sft_file(cfg.sft_file)
            report, execution = {"source": "file", "file": cfg.sft_file, "composed": len(records),
                                 "lengths": length_stats(records)}, {}
        else:
            from medreason.llm.client import LLMClient
            from medreason.verify import role_verifier

            verifier = role_verifier("compose", params.verify, params.llm,
                                     cache_path=str(CACHE / "judge.sqlite"))
            teacher = LLMClient(params.llm.teacher, cache_path=CACHE / "teacher.sqlite", prices=params.llm.prices)
            with teacher:
                records, report = compose(read_jsonl(TRAJECTORIES), teacher, verifier, cfg.max_asks,
                                          scaffold=cfg.format == "scaffold",
                                          exclude_label_hinted=cfg.exclude_label_hinted,
                                          cot_unverified=cfg.cot_unverified)
            report, execution = {"source": "search", **report}, {"teacher": teacher.report()}
        write_jsonl(records, OUT)
        publish(report, REPORT, execution)
        log_dataset(OUT, name="sft", context="output")
    print(f"compose: {report['composed']} SFT records ({report.get('dropped', {})} dropped)")


if __name__ == "__main__":
    main()
