import json

import mlflow
import pytest
import yaml

from medreason.config import IngestConfig, SourceConfig
from medreason.tracking import dep_hashes, file_md5, flatten, log_dataset, stage_run


def test_stage_run_is_tagged_with_its_lineage(tmp_path, monkeypatch, mlflow_store):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("hello")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"ingest": {"cmd": "x", "deps": ["a.txt", "up/out.parquet", "gone"]}}}))
    (tmp_path / "dvc.lock").write_text(yaml.safe_dump({"schema": "2.0", "stages": {"up": {"outs": [
        {"path": "up/out.parquet", "md5": "f" * 32}]}}}))
    monkeypatch.setenv("DVC_STAGE", "ingest")
    monkeypatch.setenv("DVC_EXP_NAME", "brave-newt")
    params = IngestConfig(sources=(SourceConfig(format="medmcqa", path="m.jsonl", cop_base=1),))
    with stage_run("ingest", params) as run:
        log_dataset(tmp_path / "a.txt", name="a", context="source")
        mlflow.log_metric("kept", 2)
    got = mlflow.MlflowClient(mlflow_store).get_run(run.info.run_id)
    tags = got.data.tags
    assert tags["DVC_STAGE"] == "ingest" and tags["DVC_EXP_NAME"] == "brave-newt"
    assert tags["dvc.dep.a.txt"] == file_md5(tmp_path / "a.txt") == "5d41402abc4b2a76b9719d911017c592"
    assert tags["dvc.dep.up/out.parquet"] == "f" * 32
    assert "dvc.dep.gone" not in tags
    assert tags["git_commit"] == "unknown"  # not a git repository
    assert got.data.params["sources"].startswith('[{"format": "medmcqa"')
    assert got.data.metrics["kept"] == 2 and got.info.run_name == "ingest"
    (ds,) = got.inputs.dataset_inputs
    assert ds.dataset.digest == "5d41402abc4b2a76b9719d911017c592" and ds.tags[0].value == "source"


def test_flatten_nested_params():
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": "1", "a.c": "[1, 2]", "d": "None"}


def test_dep_hashes_without_dvc_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert dep_hashes("ingest") == {}


def test_publish_writes_the_report_and_logs_its_numbers(tmp_path, monkeypatch, mlflow_store):
    from medreason.tracking import publish

    monkeypatch.chdir(tmp_path)
    report = {"kept": 3, "share": 0.5, "ok": True, "note": "x", "missing": None, "ids": [1, 2],
              "strategies": {"Backtracking": {"success_rate": 0.25}}, "results": {"unique(id)": {"count": 1}},
              "by_source": {"medqa:data/a.jsonl": 2, "hf://org/set": 3}}
    with stage_run("curate") as run:
        publish(report, "reports/curate.json")
    assert json.loads((tmp_path / "reports" / "curate.json").read_text()) == report
    assert (tmp_path / "reports" / "curate.json").read_text().endswith("}\n")
    client = mlflow.MlflowClient(mlflow_store)
    assert client.get_run(run.info.run_id).data.metrics == {
        "kept": 3, "share": 0.5, "strategies.Backtracking.success_rate": 0.25, "results.unique_id_.count": 1,
        "by_source.medqa_data/a.jsonl": 2, "by_source.hf___org_set": 3}
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["curate.json"]

    publish({"kept": 4}, tmp_path / "elsewhere" / "r.json")  # no run: the file only
    assert json.loads((tmp_path / "elsewhere" / "r.json").read_text()) == {"kept": 4}


def test_curve_logger_in_a_plain_loop_and_after_a_resume(tmp_path, monkeypatch, mlflow_store):
    from medreason.tracking import CurveLogger

    monkeypatch.chdir(tmp_path)
    with stage_run("rl"):
        first = CurveLogger(("loss", "reward"))
        for step in (1, 2):
            first.log(step, loss=1 / step, reward=float(step))
    # The next session restores steps 1-2 from its checkpoint, logs them to its own run once, replays step 2.
    with stage_run("rl") as run:
        curve = CurveLogger(("loss", "reward"), rows=first.rows)
        assert curve.log(2, loss=0.5, reward=2.0) is False
        assert curve.log(3, loss=0.25, reward=None) is True
        curve.write("reports/plots/rl.csv")
    client = mlflow.MlflowClient(mlflow_store)
    assert [(m.step, m.value) for m in client.get_metric_history(run.info.run_id, "train.loss")] == [
        (1, 1.0), (2, 0.5), (3, 0.25)]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "train.reward")] == [1, 2]
    assert (tmp_path / "reports" / "plots" / "rl.csv").read_text().splitlines() == [
        "step,loss,reward", "1,1.0,1.0", "2,0.5,2.0", "3,0.25,"]
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["rl.csv"]
    with pytest.raises(ValueError, match="no column"):
        curve.log(4, lr=0.1)
