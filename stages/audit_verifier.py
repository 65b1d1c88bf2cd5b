"""Stage audit_verifier: how well the configured verifier (and those it is compared with) judges a labelled set.

    python stages/audit_verifier.py           # what `dvc repro audit_verifier` runs

Writes reports/verifier_audit.json (a DVC metric): accuracy, precision, recall and balanced accuracy, overall and
per kind of pair, and every wrong verdict with its reason. Without the audit set it says so and writes that.
"""

from pathlib import Path

from medreason.config import load_params
from medreason.tracking import log_dataset, publish, stage_run
from medreason.verify import verifier_from_params
from medreason.verify.audit import audit_report, generated_pairs, read_audit_set, read_records, summary

REPORT = Path("reports/verifier_audit.json")
CACHE_DIR = Path("data/cache/verifier_audit")  # the LLM judge's answers, kept across runs
NO_GUARD = "/no_guard"  # a judge or classifier audited without the commitment guard in front


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
        records = read_records(cfg.audit_records) if Path(cfg.audit_records).is_file() else None
        pairs = read_audit_set(cfg.audit_set, records) + (generated_pairs(records) if records else [])
        report, execution = audit_report(audited(cfg), pairs, cfg.audit_set, build=lambda name: build(name, params),
                                         tune_records=cfg.tune_records if records else None)
        publish(report, REPORT, execution)
    print(summary(report, execution))


def audited(cfg) -> list[str]:
    """What the roles use (a judge or classifier with and without the guard), then what they are compared with."""
    names = []
    for role in cfg.roles.values():
        names.append(role.verifier if role.guard else f"{role.verifier}{NO_GUARD}")
        if role.verifier in ("llm_judge", "classifier"):
            names += [role.verifier, f"{role.verifier}{NO_GUARD}"]
    return list(dict.fromkeys([*names, *cfg.compare]))


def build(name: str, params):
    verifier = name.removesuffix(NO_GUARD)
    return verifier_from_params(verifier, params.verify, params.llm, guard=name == verifier,
                                cache_path=str(CACHE_DIR / f"{verifier}.sqlite"))


if __name__ == "__main__":
    main()
