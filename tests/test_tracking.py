import mlflow
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


def test_llm_usage_becomes_metrics(tmp_path, monkeypatch, mlflow_store):
    from medreason.tracking import log_llm_usage

    monkeypatch.chdir(tmp_path)
    with stage_run("audit_verifier") as run:
        log_llm_usage({"model": "gpt-4o", "requests": 7, "failures": 1, "cost": 0.25}, prefix="judge.llm")
    metrics = mlflow.MlflowClient(mlflow_store).get_run(run.info.run_id).data.metrics
    assert metrics == {"judge.llm.requests": 7, "judge.llm.failures": 1, "judge.llm.cost": 0.25}
