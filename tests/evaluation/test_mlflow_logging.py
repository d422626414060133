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


def test_evaluation_tags_the_registered_version_with_its_figures_and_the_gate_verdict(tiny_random_bundle, tmp_path, monkeypatch):
    import numpy as np
    from mlflow import MlflowClient

    from evaluation.run import Evaluation
    from tests.tampering import register_bundle, use_temporary_registry
    from withyou.registry import MODEL_NAME

    use_temporary_registry(tmp_path, monkeypatch)
    version = register_bundle(tiny_random_bundle, tmp_path / "model")
    headline = {"test_macro_f1": 0.8123456, "threshold_hide": 0.9, "ece_after": float("nan"), "real_x": 0.5}
    gate = {"passed": False, "champion": {"model_version": "v3"}}
    evaluation = Evaluation({"headline": headline, "gate": gate, "bundle_written": False}, tmp_path / "model" / "bundle",
                            np.zeros(0), np.zeros((0, 4)), np.zeros((0, 4)))  # fmt: skip

    log_to_mlflow(evaluation, [])

    tags = MlflowClient().get_model_version(MODEL_NAME, version).tags
    assert tags["eval_test_macro_f1"] == "0.8123" and tags["eval_threshold_hide"] == "0.9000"
    assert "eval_ece_after" not in tags and "eval_real_x" not in tags
    assert tags["gate"] == "FAIL vs champion v3"


def test_rewriting_a_registered_bundle_updates_its_digest_so_it_still_serves(tiny_random_bundle, tmp_path, monkeypatch):
    """Evaluation uploads its thresholds.json, calibration.json and metadata.json over the registered bundle; the
    version's digest (withyou/registry.py) must follow, or serving would refuse every evaluated model."""
    import numpy as np
    from mlflow import MlflowClient

    from evaluation.run import Evaluation
    from tests.tampering import register_bundle, use_temporary_registry
    from withyou.integrity import bundle_digest, write_bundle_json
    from withyou.registry import DIGEST_TAG, MODEL_NAME, resolve_bundle

    use_temporary_registry(tmp_path, monkeypatch)
    version = register_bundle(tiny_random_bundle, tmp_path / "model")
    bundle = tmp_path / "model" / "bundle"
    write_bundle_json(bundle, "thresholds.json", {"review": 0.2, "hide": 0.8, "source": "validation"})
    evaluation = Evaluation({"headline": {}, "bundle_written": True}, bundle, np.zeros(0), np.zeros((0, 4)), np.zeros((0, 4)))

    message = log_to_mlflow(evaluation, [])

    assert f"digest of registered version {version} updated" in message
    assert MlflowClient().get_model_version(MODEL_NAME, version).tags[DIGEST_TAG] == bundle_digest(bundle)
    served = resolve_bundle(f"models:/withyou/{version}", cache_dir=tmp_path / "cache")
    assert json.loads((served / "thresholds.json").read_text())["review"] == 0.2
