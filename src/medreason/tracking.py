"""MLflow tracking: one run per stage execution, tagged with its lineage (git commit, DVC stage, input hashes).

The store is ``sqlite:///mlruns/mlflow.db`` with artifacts under ``mlruns/artifacts`` (MLflow 3 refuses a plain
file store); ``MLFLOW_TRACKING_URI`` overrides it, as MLflow users expect.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import subprocess
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import yaml

EXPERIMENT = "medreason"
DEFAULT_URI = "sqlite:///mlruns/mlflow.db"
ARTIFACT_DIR = Path("mlruns/artifacts")


def tracking_uri() -> str:
    return os.environ.get("MLFLOW_TRACKING_URI", DEFAULT_URI)


@contextmanager
def stage_run(stage: str, params: Any = None, system_metrics: bool | None = None) -> Iterator[Any]:
    """Start the MLflow run of one stage execution (with CPU/memory/GPU metrics if asked); yields the active run."""
    import mlflow

    mlflow.set_tracking_uri(tracking_uri())
    if tracking_uri().startswith("sqlite:///") and not tracking_uri().startswith("sqlite:////"):
        Path(tracking_uri().removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if mlflow.get_experiment_by_name(EXPERIMENT) is None:
        mlflow.create_experiment(EXPERIMENT, artifact_location=ARTIFACT_DIR.resolve().as_uri())
    mlflow.set_experiment(EXPERIMENT)
    tags = {
        "git_commit": git_commit(),
        "DVC_STAGE": os.environ.get("DVC_STAGE", stage),
        "DVC_EXP_NAME": os.environ.get("DVC_EXP_NAME", ""),
        **{f"dvc.dep.{path}": h for path, h in dep_hashes(stage).items()},
    }
    with mlflow.start_run(run_name=stage, tags=tags, log_system_metrics=system_metrics) as run:
        if params is not None:
            mlflow.log_params(flatten(params))
        yield run


def log_dataset(path: str | Path, name: str, context: str) -> None:
    """Log a file as an MLflow dataset input, its digest the file's DVC md5 (a Parquet file's schema too)."""
    import mlflow
    import pandas as pd

    df = pd.DataFrame()
    if str(path).endswith(".parquet"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        schema = pq.read_schema(path)
        df = pq.read_table(path, columns=[f.name for f in schema if not pa.types.is_nested(f.type)]).to_pandas()
    with warnings.catch_warnings():  # MLflow 3 registers its local source class twice and warns about it
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted")
        dataset = mlflow.data.from_pandas(df, source=str(Path(path).resolve()), name=name, digest=file_md5(path))
    mlflow.log_input(dataset, context=context)


def log_llm_usage(usage: dict[str, Any], prefix: str = "llm") -> None:
    """An LLM client's report() totals (requests, cache hits, failures, tokens, cost) as MLflow metrics."""
    import mlflow

    mlflow.log_metrics({f"{prefix}.{k}": float(v) for k, v in usage.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})


def flatten(params: Any, prefix: str = "") -> dict[str, str]:
    """A params section (dataclass or dict) as flat ``a.b.c`` keys; lists become JSON."""
    if dataclasses.is_dataclass(params):
        params = dataclasses.asdict(params)
    out: dict[str, str] = {}
    for k, v in params.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = json.dumps(v, default=dataclasses.asdict) if isinstance(v, (list, tuple)) else str(v)
    return out


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
        # dvc.lock and DVC's .gitignore files change during `dvc repro` itself: they do not make code dirty.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)dvc.lock", ":(exclude,glob)**/.gitignore"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("-dirty" if dirty else "")


def dep_hashes(stage: str, dvc_yaml: str | Path = "dvc.yaml", dvc_lock: str | Path = "dvc.lock") -> dict[str, str]:
    """The DVC hash of each dependency of ``stage``: from dvc.lock when an upstream stage produced it (folders
    included), else the md5 of the file as DVC computes it."""
    try:
        stages = yaml.safe_load(Path(dvc_yaml).read_text())["stages"]
        deps = stages[stage].get("deps", [])
    except (OSError, KeyError, TypeError):
        return {}
    locked: dict[str, str] = {}
    if Path(dvc_lock).is_file():
        for s in (yaml.safe_load(Path(dvc_lock).read_text()) or {}).get("stages", {}).values():
            for out in s.get("outs", []):
                locked[out["path"]] = out.get("md5", "")
    hashes = {}
    for dep in deps:
        if dep in locked:
            hashes[dep] = locked[dep]
        elif Path(dep).is_file():
            hashes[dep] = file_md5(dep)
    return hashes


def file_md5(path: str | Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def log_model(folder: str | Path, registered_name: str, alias: str = "newest") -> str:
    """Log a Hugging Face model folder to the active run (transformers flavor, text generation), register it as a new
    version of ``registered_name`` and point ``alias`` at it; returns the version."""
    import mlflow
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # MLflow 3.17 cannot log a checkpoint folder by path with transformers 5 (its task table changed): load it.
    model, tokenizer = AutoModelForCausalLM.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    info = mlflow.transformers.log_model(
        transformers_model={"model": model, "tokenizer": tokenizer}, name="model", task="text-generation",
        registered_model_name=registered_name,
        pip_requirements=[f"transformers=={_version('transformers')}", f"torch=={_version('torch')}"])
    version = str(info.registered_model_version)
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(registered_name, alias, version)
    client.set_model_version_tag(registered_name, version, "git_commit", git_commit())
    return version


def _version(dist: str) -> str:
    import importlib.metadata

    return importlib.metadata.version(dist).split("+")[0]
