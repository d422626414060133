"""`withyou up` (the README's main job) without the server: train if needed, calibrate, promote; reuse after."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.training.conftest import invoke


def run_up(args: list[str], env: dict[str, str]):
    return invoke(["up", "--no-serve", *args], env=env)


def registry_call(env: dict[str, str], call):
    """Run `call()` against the test's MLflow store."""
    os.environ["MLFLOW_TRACKING_URI"], saved = env["MLFLOW_TRACKING_URI"], os.environ.get("MLFLOW_TRACKING_URI")
    try:
        return call()
    finally:
        if saved is None:
            os.environ.pop("MLFLOW_TRACKING_URI")
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved


def champion_version(env: dict[str, str]) -> str | None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    def read():
        try:
            return str(MlflowClient().get_model_version_by_alias("withyou", "champion").version)
        except MlflowException:
            return None

    return registry_call(env, read)


def test_up_fast_calibrates_a_smoke_model_and_never_makes_it_champion_then_reuses_a_champion(
    env, tiny_dataset_dir: Path
):
    first = run_up(["--fast", "--dataset", str(tiny_dataset_dir)], env)
    (model,) = (Path(env["WITHYOU_ARTIFACTS"]) / "models").iterdir()
    floor = json.loads((Path(env["WITHYOU_ARTIFACTS"]) / "evaluations" / model.name / "metrics.json").read_text())["floor"]
    assert floor["line"].startswith("floor not checked: this evaluation has no real-text benchmark")  # seed-only build
    if floor["passed"]:  # the canonical disclosures decide what a dozen steps leave
        assert first.exit_code == 0, first.output
        assert "a --fast smoke model is never champion (registered version 1 stays challenger)" in first.output
        assert "ready to serve" in first.output
    else:
        assert first.exit_code == 1 and "refused: model" in first.output and "ready to serve" not in first.output
    assert champion_version(env) is None
    # the bundle it serves carries evaluation's fitted thresholds, not the export placeholders
    assert json.loads((model / "bundle" / "thresholds.json").read_text())["source"] != "placeholder"

    from training.tracking import promote

    registry_call(env, lambda: promote("1"))  # by hand, past `withyou promote`'s rules: a champion to reuse
    second = run_up(["--dataset", str(tiny_dataset_dir)], env)
    assert second.exit_code == 0, second.output
    assert "model found" in second.output
    assert len(list((Path(env["WITHYOU_ARTIFACTS"]) / "models").iterdir())) == 1

    # --retrain trains a challenger and puts it through the gate; a smoke model stays challenger either way
    third = run_up(["--retrain", "--fast", "--dataset", str(tiny_dataset_dir)], env)
    assert third.exit_code in (0, 1), third.output  # 1: below the promotion floor
    assert "gate against champion" in third.output
    assert champion_version(env) == "1"


def test_up_refuses_a_model_below_the_linear_baseline_in_one_line_and_does_not_serve_it(
    env, tiny_dataset_dir: Path, tmp_path: Path
):
    """The benchmark is the training split itself: the TF-IDF baseline has learnt it by heart, a dozen transformer
    steps have not; the blend with its linear stage (which learnt it too) at best ties the baseline, and a tie is
    not above it."""
    from tests.conftest import write_dataset
    from withyou.records import read_jsonl

    splits = {name: read_jsonl(tiny_dataset_dir / f"{name}.jsonl") for name in ("train", "validation", "test")}
    dataset = write_dataset(tmp_path / "dataset", splits)
    (dataset / "benchmarks").mkdir()
    shutil.copyfile(dataset / "train.jsonl", dataset / "benchmarks" / "edos.jsonl")

    result = run_up(["--fast", "--dataset", str(dataset)], env)

    assert result.exit_code == 1, result.output
    (refusal,) = [line for line in result.output.splitlines() if line.startswith("refused:")]
    assert re.fullmatch(r"refused: model \S+ fails the promotion floor: below the linear baseline on real text: EDOS "
                        r"dev harassing-vs-rest macro-F1 [01]\.\d{4} vs baseline [01]\.\d{4}; canonical disclosures: "
                        r"\d+ of 84 labelled harassing, \d+ hidden( \(must be none\))?; not promoted or served",
                        refusal), refusal
    assert "ready to serve" not in result.output and champion_version(env) is None


def test_up_with_a_missing_bundle_is_a_clear_error_and_trains_nothing(env, tmp_path: Path):
    result = run_up(["--bundle", str(tmp_path / "nowhere")], env)
    assert result.exit_code == 1
    assert "no bundle at" in result.output
    assert not (Path(env["WITHYOU_ARTIFACTS"]) / "models").exists()


def test_up_with_a_missing_explicit_dataset_says_how_to_build_it(env, tmp_path: Path):
    result = run_up(["--fast", "--dataset", str(tmp_path / "no-dataset")], env)
    assert result.exit_code == 1
    assert "withyou data build --out" in result.output
