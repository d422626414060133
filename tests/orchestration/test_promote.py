"""`withyou promote VERSION` moves the champion alias only to an evaluated model above the linear baseline on real
text, never to a --fast smoke model (training.tracking.check_champion); the floor's verdict is the version tag that
evaluation writes (evaluation.report.tag_registered_versions)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaluation.gate import floor
from orchestration.cli import app
from tests.tampering import register_bundle, use_temporary_registry
from training.config import TrainConfig

pytestmark = pytest.mark.slow
runner = CliRunner()


def evaluated(version: str, edos: float, baseline_edos: float) -> None:
    """Tag `version` as `withyou evaluate` does after scoring EDOS dev with the transformer and the baseline."""
    from mlflow import MlflowClient

    from evaluation.report import tag_registered_versions

    client = MlflowClient()
    benchmarks = {"edos": {"model": {"macro_f1": edos}, "baseline": {"macro_f1": baseline_edos}}}
    metrics = {"headline": {}, "floor": floor({"benchmarks": benchmarks}).to_json()}
    tag_registered_versions(client, client.get_model_version("withyou", version).run_id, metrics)


def champion() -> str | None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    try:
        return str(MlflowClient().get_model_version_by_alias("withyou", "champion").version)
    except MlflowException:
        return None


@pytest.fixture
def version(tiny_random_bundle: Path, tmp_path: Path, monkeypatch) -> str:
    use_temporary_registry(tmp_path, monkeypatch)
    return register_bundle(tiny_random_bundle, tmp_path / "model")


def test_promote_refuses_a_model_below_the_linear_baseline(version):
    evaluated(version, edos=0.717, baseline_edos=0.721)
    result = runner.invoke(app, ["promote", version])
    assert result.exit_code == 1
    assert (f"version {version} fails the promotion floor: below the linear baseline on real text: EDOS dev harassing-vs-rest "
            "macro-F1 0.7170 vs baseline 0.7210") in result.output
    assert champion() is None


def test_promote_moves_the_champion_to_a_model_above_the_baseline(version):
    evaluated(version, edos=0.81, baseline_edos=0.721)
    result = runner.invoke(app, ["promote", version])
    assert result.exit_code == 0, result.output
    assert "above the linear baseline on real text" in result.output and champion() == version


def test_promote_refuses_a_model_that_was_never_evaluated(version):
    result = runner.invoke(app, ["promote", version])
    assert result.exit_code == 1
    assert f"run `withyou evaluate models:/withyou/{version}` first" in result.output and champion() is None


def test_promote_never_makes_a_fast_smoke_model_champion(tiny_random_bundle, tmp_path, monkeypatch):
    from training.tracking import TrainingRun

    use_temporary_registry(tmp_path, monkeypatch)
    with TrainingRun({}, "tiny", "smoke-v", TrainConfig.fast().tags) as run:
        bundle = Path(shutil.copytree(tiny_random_bundle, tmp_path / "model" / "bundle"))
        metadata = json.loads((bundle / "metadata.json").read_text())
        (bundle / "metadata.json").write_text(json.dumps({**metadata, "mlflow_run_id": run.run_id}))
        run.log_outputs(bundle.parent)
        smoke = run.register()
    evaluated(smoke, edos=0.9, baseline_edos=0.5)
    result = runner.invoke(app, ["promote", smoke])
    assert result.exit_code == 1
    assert f"version {smoke} is a --fast smoke model: never champion" in result.output and champion() is None


def test_other_aliases_move_without_the_champion_rules(version):
    result = runner.invoke(app, ["promote", version, "--alias", "candidate"])
    assert result.exit_code == 0, result.output
    assert "withyou@candidate → version" in result.output
