"""Stage audit_verifier: how well the configured verifier (and those it is compared with) judges a labelled set.

    python stages/audit_verifier.py           # what `dvc repro audit_verifier` runs

Writes reports/verifier_audit.json (a DVC metric): accuracy, precision, recall and balanced accuracy, overall and
per kind of pair, and every wrong verdict with its reason. Without the audit set it says so and writes that.
"""

import json
from pathlib import Path

from medreason.config import load_params
from medreason.tracking import log_dataset, log_llm_usage, stage_run
from medreason.verify import verifier_from_params
from medreason.verify.audit import SubstringBaseline, audit, read_audit_set

REPORT = Path("reports/verifier_audit.json")
CACHE_DIR = Path("data/cache/verifier_audit")  # the LLM judge's answers, kept across runs


def main() -> None:
    params = load_params()
    cfg = params.verify
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    with stage_run("audit_verifier", cfg):
        import mlflow

        if not Path(cfg.audit_set).is_file():
            print(f"audit_verifier: no audit set at {cfg.audit_set} (verify.audit_set): audit skipped")
            REPORT.write_text(json.dumps({"set": cfg.audit_set, "skipped": "audit set not found"}, indent=2) + "\n")
            mlflow.set_tag("audit.skipped", "audit set not found")
            return
        pairs = read_audit_set(cfg.audit_set)
        log_dataset(cfg.audit_set, name="verifier_audit", context="audit")
        reports, usage = {}, {}
        for name in dict.fromkeys((cfg.verifier, *cfg.compare)):
            verifier = SubstringBaseline() if name == "substring" else verifier_from_params(
                name, cfg, params.llm, cache_path=str(CACHE_DIR / f"{name}.sqlite"))
            reports[name] = audit(verifier, pairs)
            client = getattr(verifier, "client", None)
            if client is not None:
                usage[name] = client.report()
                log_llm_usage(usage[name], prefix=f"{name}.llm")
            o = reports[name]["overall"]
            mlflow.log_metrics({f"{name}.{k}": o[k] for k in ("balanced_accuracy", "accuracy", "precision", "recall")
                                if o[k] is not None})
            print(f"audit_verifier: {name}: balanced accuracy {o['balanced_accuracy']}, accuracy {o['accuracy']}, "
                  f"precision {o['precision']}, recall {o['recall']} ({o['fp']} fp, {o['fn']} fn)")
        REPORT.write_text(json.dumps({"set": cfg.audit_set, "pairs": len(pairs), "verifier": cfg.verifier,
                                      "verifiers": reports, "llm_usage": usage}, indent=2) + "\n")
        mlflow.log_artifact(str(REPORT))


if __name__ == "__main__":
    main()
