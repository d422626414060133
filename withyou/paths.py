"""Where things live by default. Every path here can be overridden by a CLI flag or environment variable.

    WITHYOU_DATA_DIR      mirrored/pulled public datasets (default: ../shared/data beside the repository)
    WITHYOU_ARTIFACTS     built datasets, bundles, reports (default: ./artifacts in the repository)
    MLFLOW_TRACKING_URI   MLflow store (default: sqlite under ./mlflow, see mlflow/README.md)
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SEED_DIR = REPO_ROOT / "datasets" / "seed"
SOURCES_FILE = REPO_ROOT / "datasets" / "sources.toml"


def data_dir(override: Path | str | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    env = os.environ.get("WITHYOU_DATA_DIR")
    if env:
        return Path(env).expanduser()
    return (REPO_ROOT.parent / "shared" / "data").resolve()


def artifacts_dir(override: Path | str | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    return Path(os.environ.get("WITHYOU_ARTIFACTS", REPO_ROOT / "artifacts")).expanduser()


def dataset_dir(artifacts: Path | None = None) -> Path:
    """The built dataset: train/validation/test JSONL + manifest.json (training/build.py)."""
    return artifacts_dir(artifacts) / "dataset"


def models_dir(artifacts: Path | None = None) -> Path:
    """Trained models, one folder per model version: bundle/, checkpoint/, reports (training/pipeline.py)."""
    return artifacts_dir(artifacts) / "models"


def registry_cache_dir(artifacts: Path | None = None) -> Path:
    """Bundles downloaded from the MLflow registry, one folder per registered version (withyou/registry.py)."""
    return artifacts_dir(artifacts) / "registry"


def evaluations_dir(artifacts: Path | None = None) -> Path:
    """`withyou evaluate` output, one folder per evaluated model version."""
    return artifacts_dir(artifacts) / "evaluations"


def review_dir(artifacts: Path | None = None) -> Path:
    """The review queue's SQLite database and its exports (review/)."""
    return artifacts_dir(artifacts) / "review"


def retrain_reports_dir(artifacts: Path | None = None) -> Path:
    return artifacts_dir(artifacts) / "retrain"


def mlflow_dir() -> Path:
    return REPO_ROOT / "mlflow"


def mlflow_tracking_uri() -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{mlflow_dir() / 'mlflow.db'}"


def mlflow_artifact_root() -> str:
    return (mlflow_dir() / "artifacts").as_uri()
