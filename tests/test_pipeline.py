"""`dvc repro` of the first stages in a real, temporary git + DVC repository, as a user runs it."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pyarrow.parquet as pq
import pytest
import yaml

from medreason.tracking import file_md5

from conftest import ROOT

pytestmark = pytest.mark.slow
STAGES = ["prepare_model", "ingest", "validate_mcq", "audit_verifier", "difficulty", "curate", "validate_problems",
          "split", "validate_splits", "search", "validate_trajectories", "compose", "validate_sft", "sft", "rl"]


def sh(*cmd, cwd, check=True, env=None):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def repo(tmp_path_factory, base_model, _migrated_mlflow_db):
    """A copy of the project's pipeline in a fresh git repo, `dvc repro` run once; model.base = a local folder."""
    repo = tmp_path_factory.mktemp("repo")
    for name in ("dvc.yaml", "params.yaml", ".gitignore"):
        shutil.copy(ROOT / name, repo / name)
    for name in ("stages", "src", "configs", "data/samples", "data/eval", "data/own"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["model"]["base"] = str(base_model)
    params["search"]["max_problems"] = 6  # the search is the slowest stage on CPU; 6 problems show it works
    params["validate"]["sft"]["min_rows"] = 1
    # SFT: one example per step, two passes, a checkpoint per step, format compliance on 2 questions.
    params["sft"].update(epochs=2, global_batch_size=1, per_device_batch_size=1, max_length=256, save_steps=1,
                         compliance={"max_questions": 2, "max_new_tokens": 24, "batch_size": 2})
    # RL: two PPO updates of two 16-token rollouts, one held-out question.
    params["rl"].update(total_episodes=4, batch_size=2, mini_batches=1, per_device_batch_size=2, ppo_epochs=1,
                        response_length=16, heldout=1, eval_every=1, eval_max_new_tokens=16, save_steps=1)
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # The default store location (sqlite:///mlruns/mlflow.db), pre-migrated to save the few seconds it takes.
    (repo / "mlruns").mkdir()
    shutil.copy(_migrated_mlflow_db, repo / "mlruns" / "mlflow.db")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("MLFLOW_TRACKING_URI", None)
    sh("git", "init", "-q", cwd=repo)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "init", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo, env=env)
    sh("dvc", "config", "core.analytics", "false", cwd=repo, env=env)
    sh("git", "add", "-A", cwd=repo)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "pipeline", cwd=repo)
    proc = sh("dvc", "repro", cwd=repo, env=env)
    return repo, env, proc


def test_repro_builds_the_model_the_mcq_set_and_its_validation(repo):
    repo, env, proc = repo
    assert (repo / "models" / "base" / "model.safetensors").is_file()
    ingest = json.loads((repo / "reports" / "ingest.json").read_text())
    assert ingest["read"] == ingest["kept"] == 120 and ingest["rejected"] == ingest["duplicates"] == 0
    validation = json.loads((repo / "reports" / "validate_mcq.json").read_text())
    assert validation["success"] and validation["rows"] == 120
    assert (repo / "reports" / "gx" / "mcq" / "index.html").is_file()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    assert sorted(lock["stages"]) == sorted(STAGES)
    # ../shared is not beside the temporary repo: the audit says it skipped, and why.
    assert json.loads((repo / "reports" / "verifier_audit.json").read_text())["skipped"] == "audit set not found"
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo, env=env).stdout
    metrics = sh("dvc", "metrics", "show", "--json", cwd=repo, env=env).stdout
    assert '"kept": 120' in metrics.replace(" ", "").replace('"kept":120', '"kept": 120')


def test_repro_curates_problems_and_splits_with_a_funnel_that_reconciles(repo):
    repo, env, _ = repo
    from medreason.data.frames import read_rows

    curate = json.loads((repo / "reports" / "curate.json").read_text())
    problems = read_rows(repo / "data" / "problems" / "problems.parquet")
    ledger = read_rows(repo / "data" / "problems" / "ledger.parquet")
    assert curate["in"] == len(ledger) == 120 and curate["kept"] == len(problems) >= 40
    assert sum(e["dropped_at"] is None for e in ledger) == len(problems)
    assert curate["by_reason"]["too_easy"] > 0
    multi = {r["id"] for r in read_rows(repo / "data" / "mcq" / "mcq.parquet") if r["choice_type"] == "multi"}
    assert len(multi) == 4 and all(e["dropped_at"] in ("difficulty", "rules") for e in ledger if e["mcq_id"] in multi)
    split = json.loads((repo / "reports" / "split.json").read_text())
    splits = {name: read_rows(repo / "data" / "splits" / f"{name}.parquet") for name in ("search", "rl", "eval")}
    assert {name: len(rows) for name, rows in splits.items()} == split["kept"]
    assert sum(split["kept"].values()) + sum(split["contaminated"].values()) + sum(split["over_cap"].values()) \
        == len(problems)
    assert all(s["skipped"] == "file not found" for s in split["benchmarks"])  # no benchmark files in the sample
    assert all(r["options"] and r["answer_idx"] in r["options"] for r in splits["eval"])
    assert json.loads((repo / "reports" / "validate_splits.json").read_text())["success"]
    # The funnel, as `dvc plots show` renders it.
    out = json.loads(sh("dvc", "plots", "show", "--json", cwd=repo, env=env).stdout)
    (plot,) = [v for k, v in out["data"].items() if "funnel" in k]
    data = plot[0]["content"]["data"]["values"]
    assert [int(d["count"]) for d in data][0] == 120 and len(data) == 1 + len(curate["funnel"]) + 2 + 3


def test_repro_searches_and_composes_the_sft_set(repo):
    repo, env, _ = repo
    report = json.loads((repo / "reports" / "search.json").read_text())
    trajectories = [json.loads(x) for x in (repo / "data" / "search" / "trajectories.jsonl").read_text().splitlines()]
    sft = [json.loads(x) for x in (repo / "data" / "sft" / "train.jsonl").read_text().splitlines()]
    assert report["problems"] == len(trajectories) == 6
    assert report["verified"] == sum(t["status"] == "verified" for t in trajectories) > 0
    composed = json.loads((repo / "reports" / "compose.json").read_text())
    assert composed["composed"] == len(sft) and composed["verified"] == report["verified"]
    assert all(r["Question"] and r["Complex_CoT"] and r["Response"] for r in sft)
    assert json.loads((repo / "reports" / "validate_sft.json").read_text())["success"]


def test_repro_fine_tunes_tracks_and_registers_the_sft_model(repo):
    repo, env, _ = repo
    report = json.loads((repo / "reports" / "sft.json").read_text())
    records = len((repo / "data" / "sft" / "train.jsonl").read_text().splitlines())
    assert report["chat_template"] == "stock (has generation markers)"
    assert report["data"]["records"] == records == report["data"]["examples"] + sum(report["data"]["dropped"].values())
    assert report["train"]["global_step"] == report["train"]["max_steps"] == 2 * report["data"]["examples"]
    assert set(report["format_compliance"]) == {"base", "sft"} and report["compliance_questions"] == 2
    assert (repo / "models" / "sft" / "model.safetensors").is_file()
    curve = (repo / "reports" / "plots" / "sft_loss.csv").read_text().splitlines()
    # No timing in a DVC-tracked file (tokens/s and seconds are in MLflow): a re-run writes the same bytes.
    assert curve[0] == "step,epoch,loss,learning_rate,grad_norm" and len(curve) == 1 + report["train"]["global_step"]
    assert "seconds" not in report["train"]
    client = mlflow.MlflowClient(f"sqlite:///{repo}/mlruns/mlflow.db")
    version = client.get_model_version_by_alias("medreason-sft", "newest")
    run = client.get_run(version.run_id)
    assert run.info.run_name == "sft" and run.data.metrics["format_compliance.sft"] == report["format_compliance"]["sft"]
    history = client.get_metric_history(run.info.run_id, "train.loss")
    assert [m.step for m in history] == list(range(1, report["train"]["global_step"] + 1))
    assert any(k.startswith("system/") for k in run.data.metrics)  # CPU and memory, sampled by MLflow
    assert {"sft.json", "sft_loss.csv", "sft_generations.jsonl"} <= {a.path for a in client.list_artifacts(run.info.run_id)}


def test_repro_runs_rl_from_the_sft_model_and_registers_it(repo):
    repo, env, _ = repo
    report = json.loads((repo / "reports" / "rl.json").read_text())
    assert report["algorithm"] == "ppo" and report["train"]["updates"] == 2 and report["heldout_prompts"] == 1
    assert set(report["format_compliance"]) == {"sft", "rl"} and report["compliance_questions"] == 2
    assert (repo / "models" / "rl" / "model.safetensors").is_file()
    rollouts = [json.loads(x) for x in (repo / "data" / "rl" / "rollouts.jsonl").read_text().splitlines()]
    rl_split = {r["id"]: r["mcq_id"] for r in pq.read_table(repo / "data" / "splits" / "rl.parquet").to_pylist()}
    assert len(rollouts) == 4 and all(rl_split[r["id"]] == r["mcq_id"] for r in rollouts)  # provenance to the MCQ
    curve = (repo / "reports" / "plots" / "rl_train.csv").read_text().splitlines()
    assert curve[0].startswith("step,mean_reward") and len(curve) == 3 and "seconds" not in curve[0]
    assert len((repo / "reports" / "plots" / "rl_heldout.csv").read_text().splitlines()) == 4  # updates 0, 1, 2
    client = mlflow.MlflowClient(f"sqlite:///{repo}/mlruns/mlflow.db")
    version = client.get_model_version_by_alias("medreason-rl", "newest")
    run = client.get_run(version.run_id)
    assert run.info.run_name == "rl" and "train.mean_reward" in run.data.metrics
    assert not list((repo / "models" / "checkpoints" / "rl").glob("checkpoint-*"))  # a finished run clears them


def test_search_and_sft_rerun_from_scratch_write_the_same_bytes(repo):
    """The run reproduces itself: the search (a sampling teacher, its cache deleted) and the fine-tune (a finished run
    leaves no checkpoint to resume) forced again write the same bytes: data, reports and the model."""
    repo, env, _ = repo

    def outputs(stage: str) -> dict[str, str]:
        lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"][stage]
        return {o["path"]: o["md5"] for o in lock["outs"] if not o["path"].startswith("models/checkpoints")}

    first = {**outputs("search"), **outputs("sft")}
    assert {"data/search/trajectories.jsonl", "reports/search.json", "models/sft", "reports/sft.json"} <= set(first)
    shutil.rmtree(repo / "data" / "cache" / "search")
    sh("dvc", "repro", "--force", "--single-item", "search", cwd=repo, env=env)
    sh("dvc", "repro", "--force", "--single-item", "sft", cwd=repo, env=env)
    assert {**outputs("search"), **outputs("sft")} == first


def test_an_interrupted_sft_stage_resumes_from_its_last_checkpoint(repo):
    """Kill `dvc repro sft` (the whole process group, SIGKILL) after a checkpoint; the next `dvc repro` resumes."""
    import signal
    import time

    repo, env, _ = repo
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["sft"]["epochs"] = 4  # a new configuration: the old checkpoints are cleared, then it is killed
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    checkpoints = repo / "models" / "checkpoints" / "sft"
    before = (checkpoints / "fingerprint.json").read_text()
    examples = json.loads((repo / "reports" / "sft.json").read_text())["data"]["examples"]  # DVC removes it on repro

    def complete_checkpoint_of_the_new_run() -> bool:
        try:
            return (checkpoints / "fingerprint.json").read_text() != before and any(
                (p / "trainer_state.json").is_file() for p in checkpoints.glob("checkpoint-*"))
        except FileNotFoundError:  # being cleared and rewritten
            return False

    proc = subprocess.Popen(["dvc", "repro", "sft"], cwd=repo, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while not complete_checkpoint_of_the_new_run():
        assert proc.poll() is None and time.monotonic() < deadline, "the stage ended before it could be killed"
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = [p for p in checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    last = max(int(p.name.split("-")[1]) for p in done)
    assert last < 4 * examples  # killed mid-run
    sh("dvc", "repro", "sft", cwd=repo, env=env)
    report = json.loads((repo / "reports" / "sft.json").read_text())
    client = mlflow.MlflowClient(f"sqlite:///{repo}/mlruns/mlflow.db")
    newest = client.search_runs([client.get_experiment_by_name("medreason").experiment_id], "tags.DVC_STAGE = 'sft'",
                                order_by=["attribute.start_time DESC"], max_results=1)[0]
    assert newest.data.tags["resumed_from"] == f"checkpoint-{last}"  # MLflow's: the report is the same either way
    assert report["train"]["global_step"] == report["train"]["max_steps"] == 4 * examples
    assert "Data and pipelines are up to date" in sh("dvc", "status", "sft", cwd=repo, env=env).stdout
    sh("dvc", "repro", cwd=repo, env=env)  # stage 2 follows the new models/sft: the DAG is whole again
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo, env=env).stdout


def test_changing_the_difficulty_rule_does_not_rerun_the_models(repo):
    repo, env, _ = repo
    original = (repo / "params.yaml").read_text()
    try:
        params = yaml.safe_load(original)
        params["curate"]["min_question_chars"] = 60
        (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        changed = json.loads(sh("dvc", "status", "--json", cwd=repo, env=env).stdout)
        assert "curate" in changed and "difficulty" not in changed
    finally:
        (repo / "params.yaml").write_text(original)


def test_each_stage_is_one_mlflow_run_with_lineage(repo):
    repo, env, _ = repo
    client = mlflow.MlflowClient(f"sqlite:///{repo}/mlruns/mlflow.db")
    exp = client.get_experiment_by_name("medreason")
    runs = {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}
    assert sorted(runs) == sorted(STAGES)
    head = sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    for name, run in runs.items():
        assert run.info.status == "FINISHED"
        assert run.data.tags["DVC_STAGE"] == name
        assert run.data.tags["git_commit"] == head
    assert runs["ingest"].data.metrics["kept"] == 120 and runs["ingest"].data.params["sources"].startswith("[")
    assert runs["validate_mcq"].data.metrics["failed"] == 0
    mcq_md5 = next(o["md5"] for o in lock["ingest"]["outs"] if o["path"] == "data/mcq/mcq.parquet")
    assert runs["validate_mcq"].data.tags["dvc.dep.data/mcq/mcq.parquet"] == mcq_md5
    digests = {d.dataset.name: d.dataset.digest for d in runs["ingest"].inputs.dataset_inputs}
    assert digests["mcq"] == mcq_md5 == file_md5(repo / "data" / "mcq" / "mcq.parquet")
    assert json.loads((repo / "reports" / "prepare_model.json").read_text())["how"] == "linked local folder"
    assert runs["prepare_model"].data.metrics["bytes"] > 0
    assert runs["audit_verifier"].data.tags["audit.skipped"] == "audit set not found"
    assert runs["curate"].data.metrics["kept"] == runs["split"].data.metrics["funnel.after_dedup"]  # dedup: the last step
    artifacts = {a.path for a in client.list_artifacts(runs["split"].info.run_id)}
    assert {"funnel.png", "funnel.csv", "split.json"} <= artifacts


def test_push_then_pull_restores_the_outputs(repo, tmp_path):
    repo, env, _ = repo
    sh("dvc", "remote", "add", "-f", "-d", "tmp", str(tmp_path / "remote"), cwd=repo, env=env)
    sh("dvc", "push", cwd=repo, env=env)
    before = file_md5(repo / "data" / "mcq" / "mcq.parquet")
    shutil.rmtree(repo / "data" / "mcq")
    shutil.rmtree(repo / ".dvc" / "cache")
    sh("dvc", "pull", cwd=repo, env=env)
    assert file_md5(repo / "data" / "mcq" / "mcq.parquet") == before
    assert "Data and pipelines are up to date" in sh("dvc", "status", cwd=repo, env=env).stdout


def test_a_violation_stops_the_dag_at_validate(repo):
    repo, env, _ = repo
    original = (repo / "params.yaml").read_text()
    try:
        (repo / "params.yaml").write_text(original.replace("min_rows: 100", "min_rows: 1000"))
        proc = sh("dvc", "repro", cwd=repo, env=env, check=False)
        assert proc.returncode != 0
        assert "failed 1 of 11 expectations" in proc.stderr + proc.stdout
        assert "expect_table_row_count_to_be_between" in proc.stderr + proc.stdout
    finally:
        (repo / "params.yaml").write_text(original)
