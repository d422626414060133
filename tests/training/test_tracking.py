"""MLflow: each training run is logged and registered as challenger; promote moves champion; bundles resolve."""

from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow import MlflowClient

from training.tracking import MODEL_NAME, TrainingRun, artifact_location
from withyou.bundle import BundleError, Classifier
from withyou.registry import resolve_bundle

pytestmark = pytest.mark.slow


def test_training_run_logs_config_epochs_data_hash_and_artifacts(fast_run):
    client = MlflowClient(fast_run.tracking_uri)
    run = client.get_run(fast_run.report["mlflow"]["run_id"])
    assert run.data.params["learning_rate"] == "0.0001"
    assert run.data.params["data_hash"] == fast_run.report["data_hash"]
    assert len(client.get_metric_history(run.info.run_id, "val_macro_f1")) == len(fast_run.report["history"])
    assert "transformer.test.macro_f1" in run.data.metrics and "baseline.test.macro_f1" in run.data.metrics
    logged = {f.path for f in client.list_artifacts(run.info.run_id, "bundle")}
    assert "bundle/model.onnx" in logged
    assert "reports/train_report.json" in {f.path for f in client.list_artifacts(run.info.run_id, "reports")}


def test_trained_model_is_registered_with_alias_challenger(fast_run):
    client = MlflowClient(fast_run.tracking_uri)
    version = client.get_model_version_by_alias(MODEL_NAME, "challenger")
    assert str(version.version) == fast_run.report["mlflow"]["version"]
    assert version.tags["data_hash"] == fast_run.report["data_hash"]


def test_registered_version_says_which_graph_it_ships_and_its_figures(fast_run):
    client = MlflowClient(fast_run.tracking_uri)
    version = client.get_model_version_by_alias(MODEL_NAME, "challenger")
    assert version.tags["shipped_graph"] == fast_run.report["parity"]["shipped"] in ("int8", "fp32")
    macro_f1 = fast_run.report["models"]["transformer"]["test"]["macro_f1"]
    assert float(version.tags["test_macro_f1"]) == pytest.approx(macro_f1, abs=1e-4)
    assert 0 <= float(version.tags["int8_action_agreement"]) <= 1
    description = client.get_registered_model(MODEL_NAME).description
    assert "shipped_graph: int8 or fp32" in description and "(ONNX int8)" not in description


def test_promote_moves_an_alias_to_the_new_version(fast_run, cli, monkeypatch):
    """(The champion's own rules — the baseline floor, no smoke models — are in tests/orchestration/test_promote.py.)"""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", fast_run.tracking_uri)
    first = fast_run.report["mlflow"]["version"]
    assert cli(["promote", first, "--alias", "candidate"]).exit_code == 0
    with TrainingRun({"note": "second version"}, fast_run.report["data_hash"], "second") as run:
        run.log_outputs(fast_run.model_dir)
        second = run.register()
    result = cli(["promote", second, "--alias", "candidate"])
    assert result.exit_code == 0
    assert f"version {second} (was {first})" in result.output
    client = MlflowClient(fast_run.tracking_uri)
    assert str(client.get_model_version_by_alias(MODEL_NAME, "candidate").version) == second
    assert str(client.get_model_version_by_alias(MODEL_NAME, "challenger").version) == second


def test_promote_of_an_unknown_version_names_the_known_ones(fast_run, cli):
    result = cli(["promote", "999"], env={"MLFLOW_TRACKING_URI": fast_run.tracking_uri})
    assert result.exit_code == 1
    assert "no version 999 of registered model 'withyou'" in result.output


def test_resolve_bundle_downloads_a_registered_alias_once(fast_run, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", fast_run.tracking_uri)
    path = resolve_bundle("models:/withyou@challenger", cache_dir=tmp_path)
    assert Classifier.from_bundle(path).model_version == fast_run.report["model_version"]
    assert resolve_bundle("models:/withyou@challenger", cache_dir=tmp_path) == path


def test_resolve_bundle_accepts_a_model_directory(fast_run):
    assert resolve_bundle(fast_run.model_dir) == fast_run.model_dir / "bundle"


def test_resolve_bundle_explains_a_missing_alias(fast_run, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", fast_run.tracking_uri)
    with pytest.raises(BundleError, match="has no alias 'nobody'"):
        resolve_bundle("models:/withyou@nobody", cache_dir=tmp_path)


def test_resolving_a_registered_bundle_does_not_import_torch(fast_run, tmp_path):
    code = (
        "import sys\n"
        "from withyou.registry import resolve_bundle\n"
        f"resolve_bundle('models:/withyou@challenger', cache_dir={str(tmp_path)!r})\n"
        "print(','.join(m for m in ('torch', 'transformers') if m in sys.modules) or 'none')\n"
    )
    env = {"MLFLOW_TRACKING_URI": fast_run.tracking_uri, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.strip().splitlines()[-1] == "none"


def test_artifacts_of_another_sqlite_store_live_beside_its_database(tmp_path):
    assert artifact_location(f"sqlite:///{tmp_path}/x/mlflow.db") == (tmp_path / "x" / "artifacts").as_uri()
