"""`withyou up` (the README's main job) without the server: train if needed, calibrate, promote; reuse after."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.training.conftest import invoke


def run_up(args: list[str], env: dict[str, str]):
    return invoke(["up", "--no-serve", *args], env=env)


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "WITHYOU_ARTIFACTS": str(tmp_path / "artifacts"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "WITHYOU_BUNDLE": "",
    }


def test_up_trains_calibrates_and_promotes_once_then_reuses_the_champion(env, tiny_dataset_dir: Path):
    first = run_up(["--fast", "--dataset", str(tiny_dataset_dir)], env)
    assert first.exit_code == 0, first.output
    assert "promoted withyou version 1 to champion" in first.output
    models = list((Path(env["WITHYOU_ARTIFACTS"]) / "models").iterdir())
    assert len(models) == 1

    from withyou.registry import resolve_bundle

    os.environ["MLFLOW_TRACKING_URI"], saved = env["MLFLOW_TRACKING_URI"], os.environ.get("MLFLOW_TRACKING_URI")
    try:
        champion = resolve_bundle("models:/withyou@champion", cache_dir=Path(env["WITHYOU_ARTIFACTS"]) / "check")
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI")
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved
    # the served copy carries evaluation's fitted thresholds, not the export placeholders
    assert json.loads((champion / "thresholds.json").read_text())["source"] != "placeholder"

    second = run_up(["--dataset", str(tiny_dataset_dir)], env)
    assert second.exit_code == 0, second.output
    assert "model found" in second.output
    assert len(list((Path(env["WITHYOU_ARTIFACTS"]) / "models").iterdir())) == 1

    # --retrain trains a challenger and puts it through the gate: promoted exactly when the gate passed
    third = run_up(["--retrain", "--fast", "--dataset", str(tiny_dataset_dir)], env)
    assert third.exit_code == 0, third.output
    assert "gate against champion" in third.output
    (challenger,) = {p.name for p in (Path(env["WITHYOU_ARTIFACTS"]) / "models").iterdir()} - {models[0].name}
    metrics = json.loads((Path(env["WITHYOU_ARTIFACTS"]) / "evaluations" / challenger / "metrics.json").read_text())
    assert ("promoted withyou version 2 to champion" in third.output) == metrics["gate"]["passed"]


def test_up_with_a_missing_bundle_is_a_clear_error_and_trains_nothing(env, tmp_path: Path):
    result = run_up(["--bundle", str(tmp_path / "nowhere")], env)
    assert result.exit_code == 1
    assert "no bundle at" in result.output
    assert not (Path(env["WITHYOU_ARTIFACTS"]) / "models").exists()


def test_up_with_a_missing_explicit_dataset_says_how_to_build_it(env, tmp_path: Path):
    result = run_up(["--fast", "--dataset", str(tmp_path / "no-dataset")], env)
    assert result.exit_code == 1
    assert "withyou data build --out" in result.output
