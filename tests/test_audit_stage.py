"""The audit_verifier stage on the real shared audit set."""

import json
import subprocess
import sys

import mlflow
import yaml

from medreason.verify.audit import main

from conftest import ROOT, shared_file


def test_audit_stage_reports_each_verifier_on_the_shared_set(tmp_path, mlflow_store):
    audit_set = shared_file("verifier_audit.json")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["verify"].update(audit_set=str(audit_set), audit_records=str(shared_file("medqa_demo_processed.json")),
                            compare=["substring"])
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    proc = subprocess.run([sys.executable, str(ROOT / "stages" / "audit_verifier.py")], cwd=tmp_path,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    report = json.loads((tmp_path / "reports" / "verifier_audit.json").read_text())
    assert report["pairs"] > 806 and set(report["verifiers"]) == {"default", "substring"}  # the set and the cases
    default, substring = report["verifiers"]["default"]["overall"], report["verifiers"]["substring"]["overall"]
    assert default["balanced_accuracy"] > substring["balanced_accuracy"] + 0.15
    assert set(report["verifiers"]["default"]["by_kind"]) >= {
        "option_correct", "option_wrong", "response_agrees", "response_contradicts", "response_other_case",
        "negated", "incidental_mention", "enumeration", "hedge", "long_explanation", "adversarial"}
    pools = report["verifiers"]["default"]["pools"]
    assert set(pools) == {"tune", "report", "holdout"} and pools["tune"]["set"]["balanced_accuracy"] >= 0.93
    # The CLI's report has the same shape; the run's metrics are the report's numbers.
    cli_out = tmp_path / "cli.json"
    assert main(["--verifier", "substring", "--set", str(audit_set), "--out", str(cli_out),
                 "--records", str(shared_file("medqa_demo_processed.json"))]) == 0
    cli = json.loads(cli_out.read_text())
    assert cli.keys() == report.keys() and cli["verifiers"]["substring"]["overall"] == substring
    (run,) = mlflow.MlflowClient(mlflow_store).search_runs(
        [mlflow.get_experiment_by_name("medreason").experiment_id])
    assert run.data.metrics["verifiers.default.overall.balanced_accuracy"] == default["balanced_accuracy"]
    assert "balanced" in proc.stdout  # the summary line of each verifier
