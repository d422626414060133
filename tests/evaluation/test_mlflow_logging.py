"""The report and headline numbers land in the model's MLflow run (a real MLflow store in a temp directory)."""

import json

import pytest

from evaluation.report import log_to_mlflow, write_report
from evaluation.run import EvaluationConfig, evaluate_bundle
from withyou import paths

pytestmark = pytest.mark.slow


@pytest.fixture
def mlflow_run_id(tmp_path, monkeypatch):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("withyou-test", artifact_location=(tmp_path / "artifacts").as_uri())
    run = client.create_run(experiment)
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def test_report_files_and_metrics_are_logged_to_the_bundles_run(bundle_copy, tiny_dataset_dir, tmp_path, mlflow_run_id):
    from mlflow.tracking import MlflowClient

    metadata = json.loads((bundle_copy / "metadata.json").read_text())
    (bundle_copy / "metadata.json").write_text(json.dumps({**metadata, "mlflow_run_id": mlflow_run_id}))
    evaluation = evaluate_bundle(bundle_copy, EvaluationConfig(dataset_dir=tiny_dataset_dir, peers=False))
    files = write_report(evaluation, tmp_path / "out")
    message = log_to_mlflow(evaluation, list(files))
    client = MlflowClient(tracking_uri=paths.mlflow_tracking_uri())  # not the process-wide URI an earlier test set
    run = client.get_run(mlflow_run_id)
    assert mlflow_run_id in message
    assert run.data.metrics["eval_test_macro_f1"] == pytest.approx(evaluation.metrics["headline"]["test_macro_f1"])
    assert {a.path for a in client.list_artifacts(mlflow_run_id, "evaluation")} == {
        "evaluation/report.html", "evaluation/metrics.json"
    }


def test_bundle_without_run_id_is_skipped_with_a_notice(bundle_copy, tiny_dataset_dir):
    evaluation = evaluate_bundle(bundle_copy, EvaluationConfig(dataset_dir=tiny_dataset_dir, peers=False))
    assert "no mlflow_run_id" in log_to_mlflow(evaluation, [])
