"""Stage ingest: the configured MedQA/MedMCQA/HuatuoGPT-o1/HF sources -> data/mcq/mcq.parquet, rejected.jsonl and
reports/ingest.json (read = kept + rejected + duplicates).

    python stages/ingest.py                   # what `dvc repro ingest` runs
"""

from medreason.config import load_params
from medreason.data.ingest import ingest, write_outputs
from medreason.tracking import log_dataset, publish, stage_run

OUT_DIR = "data/mcq"
REPORT = "reports/ingest.json"


def main() -> None:
    params = load_params().ingest
    with stage_run("ingest", params):
        result = ingest(params.sources)
        write_outputs(result, OUT_DIR)
        publish(result.report, REPORT)
        for src in params.sources:
            if src.format != "hf":
                log_dataset(src.path, name=src.path, context="source")
        log_dataset(f"{OUT_DIR}/mcq.parquet", name="mcq", context="output")
    r = result.report
    print(f"ingest: read {r['read']} = kept {r['kept']} + rejected {r['rejected']} + duplicates {r['duplicates']}")


if __name__ == "__main__":
    main()
