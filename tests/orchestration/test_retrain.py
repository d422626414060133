"""`withyou retrain` refuses to start, before any export or training, when there is no champion to gate against."""

from __future__ import annotations

from typer.testing import CliRunner

from orchestration.cli import app


def test_retrain_without_a_champion_stops_before_training(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("WITHYOU_ARTIFACTS", str(tmp_path / "artifacts"))

    result = CliRunner().invoke(app, ["retrain", "--fast", "--no-public"])

    assert result.exit_code == 2
    assert "no 'champion' model to gate against" in result.output
    assert not (tmp_path / "artifacts" / "models").exists()
