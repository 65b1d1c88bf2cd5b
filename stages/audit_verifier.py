"""Stage audit_verifier: how well the configured verifier (and those it is compared with) judges a labelled set.

    python stages/audit_verifier.py           # what `dvc repro audit_verifier` runs

Writes reports/verifier_audit.json (a DVC metric): accuracy, precision, recall and balanced accuracy, overall and
per kind of pair, and every wrong verdict with its reason. Without the audit set it says so and writes that.
"""

from pathlib import Path

from medreason.config import load_params
from medreason.tracking import log_dataset, publish, stage_run
from medreason.verify import verifier_from_params
from medreason.verify.audit import audit_report, read_audit_set, summary

REPORT = Path("reports/verifier_audit.json")
CACHE_DIR = Path("data/cache/verifier_audit")  # the LLM judge's answers, kept across runs


def main() -> None:
    params = load_params()
    cfg = params.verify
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with stage_run("audit_verifier", cfg):
        import mlflow

        if not Path(cfg.audit_set).is_file():
            print(f"audit_verifier: no audit set at {cfg.audit_set} (verify.audit_set): audit skipped")
            publish({"set": cfg.audit_set, "skipped": "audit set not found"}, REPORT)
            mlflow.set_tag("audit.skipped", "audit set not found")
            return
        log_dataset(cfg.audit_set, name="verifier_audit", context="audit")
        report, execution = audit_report((cfg.verifier, *cfg.compare), read_audit_set(cfg.audit_set), cfg.audit_set,
                              build=lambda name: verifier_from_params(name, cfg, params.llm,
                                                                      cache_path=str(CACHE_DIR / f"{name}.sqlite")))
        publish(report, REPORT, execution)
    print(summary(report, execution))


if __name__ == "__main__":
    main()
