"""`withyou up --preset` and `withyou retrain` train a preset with the data it needs (issue 19): the build reads the
preset's opt-in source sets, training gets the preset, evaluation grades every language the bundle lists, and a
retrain trains the champion's preset again.

No model is trained here: the build and the training step are replaced by fakes that record what they were asked
for. The fake training hands back the tiny bundle listing French (what the multilingual preset's bundle lists), so
`up`'s evaluation and promotion floor are the real ones.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import tiny_splits, write_dataset
from tests.evaluation.test_languages import french_test_rows
from tests.training.conftest import invoke
from training.config import MULTILINGUAL_BASE_MODEL, PRESET_TAG
from training.sources import MULTILINGUAL
from withyou import paths
from withyou.integrity import record_checksums


class TrainingStarted(Exception):
    """Raised by the fake training of the retrain tests: what it was asked for is all they check."""


def fake_build(built: list):
    """build_dataset that records its BuildConfig and writes the tiny dataset with French held out in test."""

    def build_dataset(config, notices=None):
        built.append(config)
        splits = tiny_splits()
        splits["test"] += french_test_rows()
        directory = write_dataset(Path(config.out_dir), splits)
        manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
        manifest.update(rows={name: len(records) for name, records in splits.items()},
                        config={"opt_in": list(config.opt_in)})  # fmt: skip
        (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        return manifest

    return build_dataset


def with_metadata(bundle: Path, destination: Path, **changes) -> Path:
    """A copy of `bundle` whose metadata.json has `changes` (None removes a key), checksums recorded again."""
    copy = Path(shutil.copytree(bundle, destination))
    metadata = json.loads((copy / "metadata.json").read_text(encoding="utf-8"))
    metadata.update(changes)
    metadata = {key: value for key, value in metadata.items() if value is not None}
    (copy / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    record_checksums(copy)
    return copy


# --- withyou up --preset multilingual ---


def test_up_multilingual_builds_with_the_opt_in_trains_the_preset_and_grades_the_bundles_languages(
    env, tiny_bundle, monkeypatch
):
    from training.pipeline import TrainOutcome

    built, trained = [], []

    def run_training(config):
        trained.append(config)
        model_dir = paths.models_dir() / "multilingual-v1"
        with_metadata(tiny_bundle, model_dir / "bundle", languages=["en", "fr"], preset=config.tags.get(PRESET_TAG))
        return TrainOutcome("multilingual-v1", model_dir, {}, None)

    monkeypatch.setattr("training.build.build_dataset", fake_build(built))
    monkeypatch.setattr("training.pipeline.run_training", run_training)

    result = invoke(["up", "--no-serve", "--preset", "multilingual", "--no-public"], env=env)

    (build,) = built
    assert build.opt_in == (MULTILINGUAL,)
    (train,) = trained
    assert (train.base_model, train.opt_in) == (MULTILINGUAL_BASE_MODEL, (MULTILINGUAL,))
    assert train.tags == {PRESET_TAG: "multilingual", "trigger": "up"}
    metrics_path = Path(env["WITHYOU_ARTIFACTS"]) / "evaluations" / "multilingual-v1" / "metrics.json"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    assert metrics["languages"]["graded"] == ["en", "fr"]  # the bundle's own, no --language asked
    # a dozen English steps do not read French: the floor refuses it on its French bars, in one line, exit 1
    assert result.exit_code == 1, result.output
    (refusal,) = [line for line in result.output.splitlines() if line.startswith("refused:")]
    assert "fails the promotion floor" in refusal and "fr: " in refusal
    assert "ready to serve" not in result.output


def test_a_dataset_built_without_the_presets_opt_in_is_rebuilt_then_reused(tiny_dataset_dir, tmp_path, monkeypatch):
    from orchestration.lifecycle import LifecycleConfig, ensure_dataset

    built, lines = [], []
    monkeypatch.setattr("training.build.build_dataset", fake_build(built))
    dataset = Path(shutil.copytree(tiny_dataset_dir, tmp_path / "dataset"))  # built with no opt-in set
    config = LifecycleConfig(preset="multilingual", dataset_dir=dataset, include_public=False)

    ensure_dataset(config, (MULTILINGUAL,), lines.append)
    ensure_dataset(config, (MULTILINGUAL,), lines.append)

    assert [build.opt_in for build in built] == [(MULTILINGUAL,)]
    assert lines[0] == (f"notice: {dataset} was built with opt-in none; the multilingual preset trains on opt-in "
                        "multilingual: rebuilding it")  # fmt: skip


# --- withyou retrain ---


def retrain(champion: Path, tmp_path: Path, env: dict[str, str], *args: str):
    review_export = tmp_path / "reviewed.jsonl"
    review_export.write_text("", encoding="utf-8")
    return invoke(["retrain", "--champion", str(champion), "--no-export", "--review-export", str(review_export),
                   "--dataset", str(tmp_path / "dataset"), "--no-public", *args], env=env)  # fmt: skip


@pytest.fixture()
def recorded(monkeypatch) -> dict[str, list]:
    """The fake build's BuildConfigs and the TrainConfig the fake training stops at."""
    calls: dict[str, list] = {"built": [], "trained": []}

    def run_training(config):
        calls["trained"].append(config)
        raise TrainingStarted

    monkeypatch.setattr("training.build.build_dataset", fake_build(calls["built"]))
    monkeypatch.setattr("training.pipeline.run_training", run_training)
    return calls


def test_retrain_of_a_multilingual_champion_rebuilds_with_the_opt_in_and_trains_the_preset(
    env, tiny_random_bundle, tmp_path, recorded
):
    champion = with_metadata(tiny_random_bundle, tmp_path / "champion", preset="multilingual",
                             languages=["en", "es", "fr", "hi", "hi-Latn", "ja"])  # fmt: skip

    with pytest.raises(TrainingStarted):
        retrain(champion, tmp_path, env)

    assert [build.opt_in for build in recorded["built"]] == [(MULTILINGUAL,)]
    (train,) = recorded["trained"]
    assert (train.base_model, train.opt_in, train.tags[PRESET_TAG]) == (
        MULTILINGUAL_BASE_MODEL, (MULTILINGUAL,), "multilingual")


def test_an_explicit_preset_overrides_the_champions(env, tiny_random_bundle, tmp_path, recorded):
    champion = with_metadata(tiny_random_bundle, tmp_path / "champion", preset="multilingual", languages=["en", "fr"])

    with pytest.raises(TrainingStarted):
        retrain(champion, tmp_path, env, "--preset", "default")

    assert [build.opt_in for build in recorded["built"]] == [()]
    (train,) = recorded["trained"]
    assert (train.opt_in, train.tags[PRESET_TAG]) == ((), "default") and train.base_model != MULTILINGUAL_BASE_MODEL


def test_a_champion_serving_other_languages_without_a_recorded_preset_stops_the_retrain(
    env, tiny_random_bundle, tmp_path, recorded
):
    champion = with_metadata(tiny_random_bundle, tmp_path / "champion", preset=None, languages=["en", "fr"])

    result = retrain(champion, tmp_path, env)

    assert result.exit_code == 2
    assert "records no training preset and serves fr: pass --preset" in result.output
    assert recorded == {"built": [], "trained": []}
