"""MLflow tracking: one run per stage execution, tagged with its lineage (git commit, DVC stage, input hashes).

The store is ``sqlite:///mlruns/mlflow.db`` with artifacts under ``mlruns/artifacts`` (MLflow 3 refuses a plain
file store); ``MLFLOW_TRACKING_URI`` overrides it, as MLflow users expect. A stage reports through ``publish`` (its
JSON report, whose numbers become the run's metrics) and ``publish_csv`` (a plot's data); a training loop logs its
curve through ``CurveLogger``.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import posixpath
import re
import subprocess
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

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


def publish(report: dict[str, Any], path: str | Path, execution: Mapping[str, Any] | None = None) -> None:
    """Write a stage's report (JSON, a DVC metric) and, inside an MLflow run, log its numeric leaves as metrics
    (``metric_leaves``) and the file as an artifact. Outside a run (a CLI, a test) it only writes the file.
    ``execution`` holds how this run went rather than what it made (seconds, tokens/s, requests sent, cache hits,
    money spent this time): MLflow metrics only, never the DVC-tracked file, so two runs that make the same outputs
    write the same report whatever their timing or cache."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if _active_run() is not None:
        import mlflow

        mlflow.log_metrics({**metric_leaves(report), **metric_leaves(dict(execution or {}))})
        mlflow.log_artifact(str(path))


def publish_csv(rows: Iterable[Mapping[str, Any]], path: str | Path, columns: Sequence[str]) -> None:
    """Write rows as a CSV for `dvc plots` (header ``columns``, even without rows; a key outside them is an error)
    and, inside an MLflow run, log the file as an artifact."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(columns))
        writer.writeheader()
        writer.writerows(rows)
    if _active_run() is not None:
        import mlflow

        mlflow.log_artifact(str(path))


def metric_leaves(report: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """The int and float leaves of a nested report as MLflow metrics, keys joined by dots
    (``strategies.Backtracking.success_rate``). Bools, None, strings and lists are not metrics; a character MLflow
    refuses in a name becomes ``_``."""
    out: dict[str, float] = {}
    for k, v in report.items():
        key = prefix + _metric_name(str(k))
        if isinstance(v, dict):
            out.update(metric_leaves(v, key + "."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = float(v)
    return out


class CurveLogger:
    """A training loop's step curve: each row goes to the active MLflow run as ``<prefix>.<name>`` metrics at its step
    and is kept for the plot CSV (``write``). Any loop can call ``log``. A resumed loop passes the rows its checkpoint
    restored (logged to this run once, first) or replays them: a step not after the curve's last is already in it
    and is skipped. Names in ``timings`` (tokens per second...) go to MLflow only: the CSV is DVC-tracked and must
    not change between identical runs."""

    def __init__(self, names: Sequence[str], rows: Iterable[Mapping[str, Any]] = (), prefix: str = "train",
                 timings: Sequence[str] = ()):
        self.columns = ("step", *names)
        self.timings = tuple(timings)
        self.prefix = prefix
        self.rows: list[dict[str, Any]] = []
        for row in rows:
            self.log(**row)

    def log(self, step: int, **values: float | None) -> bool:
        """Add the row of ``step``; False (nothing added or logged) when the curve already reaches it."""
        unknown = set(values) - set(self.columns[1:])
        if unknown:
            raise ValueError(f"the curve has no column {sorted(unknown)} (columns: {', '.join(self.columns)})")
        if self.rows and step <= self.rows[-1]["step"]:
            return False
        self.rows.append({"step": step, **values})
        if _active_run() is not None:
            import mlflow

            mlflow.log_metrics({_metric_name(f"{self.prefix}.{k}"): float(v) for k, v in values.items()
                                if v is not None}, step=step)
        return True

    def write(self, path: str | Path) -> None:
        columns = [c for c in self.columns if c not in self.timings]
        publish_csv(({c: row.get(c) for c in columns} for row in self.rows), path, columns)


_NOT_IN_METRIC_NAMES = re.compile(r"[^\w\-./ ]")  # MLflow's rule (its Windows one: no colon)


def _metric_name(name: str) -> str:
    name = _NOT_IN_METRIC_NAMES.sub("_", name)
    # MLflow also refuses a name that a path would normalise ("a//b", "x/../y", a file path in a report key).
    return name if posixpath.normpath(name) == name else name.replace("/", "_")


def _active_run() -> Any:
    # If mlflow was never imported no run can be active, and a CLI writing a report need not pay for the import.
    mlflow = sys.modules.get("mlflow")
    return mlflow.active_run() if mlflow is not None else None


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
