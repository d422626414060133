"""One real `withyou train --fast` run (tiny dataset, MLflow in a temporary SQLite store) shared by the tests."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration.cli import app


@dataclass
class FastRun:
    output: str
    model_dir: Path
    report: dict
    tracking_uri: str
    dataset_dir: Path


def invoke(args: list[str], env: dict[str, str] | None = None):
    """Run the real CLI in-process with environment overrides (restored afterwards)."""
    saved = {key: os.environ.get(key) for key in (env or {})}
    os.environ.update(env or {})
    try:
        return CliRunner().invoke(app, args, catch_exceptions=False)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def cli():
    """The `withyou` CLI as a function: cli(args, env=None) → click Result."""
    return invoke


@pytest.fixture(scope="session")
def mlflow_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def fast_run(tmp_path_factory: pytest.TempPathFactory, tiny_dataset_dir: Path, mlflow_uri: str) -> FastRun:
    artifacts = tmp_path_factory.mktemp("artifacts")
    result = invoke(
        ["train", "--fast", "--dataset", str(tiny_dataset_dir), "--artifacts", str(artifacts)],
        env={"MLFLOW_TRACKING_URI": mlflow_uri},
    )
    assert result.exit_code == 0, result.output
    (model_dir,) = (artifacts / "models").iterdir()
    report = json.loads((model_dir / "train_report.json").read_text())
    return FastRun(result.output, model_dir, report, mlflow_uri, tiny_dataset_dir)
