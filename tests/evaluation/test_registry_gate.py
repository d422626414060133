"""`--against champion` through a real MLflow registry (temp store), registered with training's own tracking code."""

import json

import pytest
from typer.testing import CliRunner

from tests.evaluation.conftest import copy_bundle, force_label
from orchestration.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def registry(tmp_path, monkeypatch):
    """An empty MLflow store and artifacts directory for this test only."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")
    monkeypatch.setenv("WITHYOU_ARTIFACTS", str(tmp_path / "artifacts"))
    return tmp_path


def register(model_dir, model_version):
    """Log and register a bundle as `withyou train` does; the bundle's metadata carries the run id."""
    from training.tracking import TrainingRun

    with TrainingRun({}, "tiny", model_version) as run:
        metadata_path = model_dir / "bundle" / "metadata.json"
        metadata = json.loads(metadata_path.read_text())
        metadata_path.write_text(json.dumps({**metadata, "model_version": model_version, "mlflow_run_id": run.run_id}))
        run.log_outputs(model_dir)
        return run.register()


def test_gate_against_registered_champion_fails_a_worse_challenger(registry, tiny_bundle, tiny_dataset_dir):
    from training.tracking import promote

    champion_dir = registry / "champion-model"
    force_label(copy_bundle(tiny_bundle, champion_dir / "bundle"), "neutral")
    promote(register(champion_dir, "champion-v"))
    challenger = force_label(copy_bundle(tiny_bundle, registry / "challenger"), "harassing")
    result = runner.invoke(app, ["evaluate", str(challenger), "--dataset", str(tiny_dataset_dir), "--no-peers",
                                 "--out", str(registry / "out"), "--against", "champion"])
    assert result.exit_code == 1, result.output
    assert "champion-v (champion)" in result.output and "gate FAIL" in result.output


def test_evaluating_a_registered_model_updates_the_registered_bundle(registry, tiny_bundle, tiny_dataset_dir):
    from withyou.registry import resolve_bundle

    model_dir = registry / "model"
    copy_bundle(tiny_bundle, model_dir / "bundle")
    version = register(model_dir, "challenger-v")
    result = runner.invoke(app, ["evaluate", "challenger", "--dataset", str(tiny_dataset_dir), "--no-peers",
                                 "--out", str(registry / "out")])
    assert result.exit_code == 0, result.output
    fresh = resolve_bundle(f"models:/withyou/{version}", cache_dir=registry / "fresh-cache")
    assert json.loads((fresh / "thresholds.json").read_text())["source"] == "validation"
    assert "eval_test_macro_f1" in result.output or "logged" in result.output


def test_missing_champion_is_a_clear_error(registry, bundle_copy, tiny_dataset_dir):
    result = runner.invoke(app, ["evaluate", str(bundle_copy), "--dataset", str(tiny_dataset_dir), "--no-peers",
                                 "--out", str(registry / "out"), "--against", "champion", "--no-write-bundle"])
    assert result.exit_code == 2
    assert "champion" in result.output and "Traceback" not in result.output
