"""`withyou train`: the fast end-to-end path, the baseline beside it, sampling, and clear errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import joblib
import numpy as np
import pytest

from training.config import ConfigError, TrainConfig
from training.dataset import balanced_quotas, load_dataset, sample_indices
from training.fit import fit_transformer, load_checkpoint, macro_f1, predict_logits
from withyou.bundle import Classifier
from withyou.labels import LABELS
from tests.conftest import tiny_splits


@pytest.mark.slow
def test_fast_train_bundle_predicts_the_same_labels_as_torch(fast_run):
    test = load_dataset(fast_run.dataset_dir).test
    model, tokenizer = load_checkpoint(fast_run.model_dir / "checkpoint", max_length=48)
    torch_logits = predict_logits(model, tokenizer, test)
    fp32 = Classifier.from_bundle(fast_run.model_dir / "bundle", model_file="model.fp32.onnx")
    int8 = Classifier.from_bundle(fast_run.model_dir / "bundle")
    items = [{"text": r.text, "parent_text": r.parent_text} for r in test]
    torch_labels = [LABELS[i] for i in torch_logits.argmax(axis=1)]
    assert [p.label for p in fp32.predict(items)] == torch_labels
    # int8 must agree wherever torch is not a near-tie (int8 logit noise is ~1e-2 on MiniLM).
    top2 = np.sort(torch_logits, axis=1)[:, -2:]
    decisive = (top2[:, 1] - top2[:, 0]) > 0.05
    int8_labels = np.array([p.label for p in int8.predict(items)])
    assert (int8_labels[decisive] == np.array(torch_labels)[decisive]).all()


@pytest.mark.slow
def test_fast_train_reports_transformer_and_baseline_side_by_side(fast_run):
    for model in ("transformer", "baseline"):
        for split in ("validation", "test"):
            metrics = fast_run.report["models"][model][split]
            assert 0.0 <= metrics["macro_f1"] <= 1.0
            assert set(metrics["per_label_f1"]) == set(LABELS)
    assert "transformer" in fast_run.output and "baseline" in fast_run.output
    assert (fast_run.model_dir / "confusion_matrix.png").stat().st_size > 10_000


@pytest.mark.slow
def test_fast_train_records_the_dataset_hash_in_bundle_and_report(fast_run):
    manifest = json.loads((fast_run.dataset_dir / "manifest.json").read_text())
    metadata = json.loads((fast_run.model_dir / "bundle" / "metadata.json").read_text())
    assert metadata["data_hash"] == manifest["content_hash"] == fast_run.report["data_hash"]


@pytest.mark.slow
def test_saved_baseline_gives_probabilities_in_label_order(fast_run):
    baseline = joblib.load(fast_run.model_dir / "baseline.joblib")
    proba = baseline.predict_proba([{"text": "I believe you", "parent_text": "It happened to me."}, "lentil soup"])
    assert list(baseline.classes_) == list(LABELS)
    assert proba.shape == (2, 4)
    assert np.allclose(proba.sum(axis=1), 1.0)


def test_balanced_quotas_give_small_classes_all_they_have():
    assert balanced_quotas([10, 1000, 1000, 40], 400) == [10, 175, 175, 40]


def test_epoch_sample_is_balanced_and_without_replacement():
    labels = np.array([0] * 500 + [1] * 300 + [2] * 50 + [3] * 2000)
    picked = sample_indices(labels, 400, np.random.default_rng(0))
    assert len(picked) == len(set(picked)) == 400
    assert np.bincount(labels[picked]).tolist() == [117, 116, 50, 117]


def test_epoch_sample_depends_only_on_the_seed():
    labels = np.arange(1000) % 4
    first = sample_indices(labels, 100, np.random.default_rng(13))
    again = sample_indices(labels, 100, np.random.default_rng(13))
    assert (first == again).all()


def test_negative_learning_rate_is_a_config_error():
    with pytest.raises(ConfigError, match="learning_rate must be > 0"):
        TrainConfig(learning_rate=-1e-5)


def test_train_cli_rejects_negative_learning_rate(cli, tiny_dataset_dir):
    result = cli(["train", "--fast", "--dataset", str(tiny_dataset_dir), "--lr", "-0.1", "--no-track"])
    assert result.exit_code == 1
    assert "learning_rate must be > 0" in result.output


def test_train_cli_names_a_missing_base_model_path(cli, tiny_dataset_dir, tmp_path):
    missing = tmp_path / "no-such-model"
    result = cli(["train", "--fast", "--dataset", str(tiny_dataset_dir), "--base-model", str(missing), "--no-track"])
    assert result.exit_code == 1
    assert f"base model path {missing} does not exist" in result.output


def test_train_cli_explains_a_missing_dataset(cli, tmp_path):
    result = cli(["train", "--fast", "--dataset", str(tmp_path / "nothing"), "--no-track"])
    assert result.exit_code == 1
    assert "no built dataset at" in result.output
    assert "withyou data build" in result.output


def test_dataset_without_manifest_is_named(tiny_dataset_dir, tmp_path):
    for name in ("train.jsonl", "validation.jsonl", "test.jsonl"):
        (tmp_path / name).write_bytes((tiny_dataset_dir / name).read_bytes())
    with pytest.raises(FileNotFoundError, match="missing manifest.json"):
        load_dataset(tmp_path)


@pytest.mark.slow
def test_the_same_data_and_seed_give_the_same_model_on_a_busy_slow_machine(monkeypatch):
    """The default preset's stop rules at tiny sizes, run twice: once on the idle machine, once beside a process that
    spins on a core and with a clock that runs 1,000 times fast (a machine far slower than any real one). A
    wall-clock budget would stop the second run after its first steps; an example budget trains both alike."""
    splits = tiny_splits()
    config = TrainConfig.preset("default", max_length=48, batch_size=8, eval_batch_size=32, epochs=2,
                                max_train_examples=24, max_eval_examples=8, patience=2, track=False)
    idle = fit_transformer(config, splits["train"], splits["validation"])
    idle_logits = predict_logits(idle.model, idle.tokenizer, splits["test"])
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    real_clock = time.perf_counter
    monkeypatch.setattr(time, "perf_counter", lambda: 1_000 * real_clock())
    try:
        busy = fit_transformer(config, splits["train"], splits["validation"])
    finally:
        monkeypatch.undo()
        hog.kill()
        hog.wait()
    busy_logits = predict_logits(busy.model, busy.tokenizer, splits["test"])
    truth = np.array([LABELS.index(r.label) for r in splits["test"]])
    assert (busy.steps, busy.stopped_by) == (idle.steps, idle.stopped_by) == (6, "epochs")
    assert [e.val_macro_f1 for e in busy.history] == pytest.approx([e.val_macro_f1 for e in idle.history], abs=0.005)
    assert macro_f1(truth, busy_logits.argmax(axis=1)) == pytest.approx(macro_f1(truth, idle_logits.argmax(axis=1)), abs=0.005)
    assert np.allclose(busy_logits, idle_logits, atol=1e-4)
