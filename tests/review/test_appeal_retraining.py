"""An overturned appeal reaches retraining weighted up (issue 21 item 6): review store → `withyou review export` →
the retrain's dataset build (training/build.py, the export as an extra) → the retrain's TrainConfig → the
per-row sampling weights the transformer's epochs and the linear stage use (training/pipeline.py sample_weights).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.lifecycle import LifecycleConfig, train_config
from orchestration.retrain import RetrainConfig, lifecycle_config
from review.export import APPEAL_CORRECTION_TAG, export_reviewed
from review.store import ReviewStore
from tests.conftest import tiny_splits
from tests.review.helpers import candidate
from training.build import BuildConfig, build_dataset
from training.dataset import load_dataset
from training.pipeline import linear_sample_weights, sample_weights
from withyou.records import write_jsonl

APPEALED = "if you had read the thread you would know I was repeating his words to report them to the mods"
PLAIN = "I am so sorry this happened to you, thank you for trusting us with something this painful to share"


@pytest.fixture
def seed_dir(tmp_path) -> Path:
    directory = tmp_path / "seed"
    directory.mkdir()
    write_jsonl(directory / "seed.jsonl", [r.model_copy(update={"split": None}) for s in tiny_splits().values() for r in s])
    return directory


@pytest.mark.parametrize("preset", ["default", "fast"])
def test_the_retrain_weights_an_appeal_correction_above_an_ordinary_review_label(seed_dir, tmp_path, preset):
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    appealed = store.enqueue(candidate("appealed", 0.95, text=APPEALED))
    store.decide(appealed, "alice", "harassing")
    store.decide_appeal(store.open_appeal("appealed", "I was reporting him")["id"], "bob", "overturned", "supportive")
    plain = store.enqueue(candidate("plain", 0.6, text=PLAIN))
    store.decide(plain, "alice", "supportive")
    export = export_reviewed(store, tmp_path / "reviewed.jsonl").path

    retrain = lifecycle_config(RetrainConfig(lifecycle=LifecycleConfig()), export, review_rows=2, preset=preset)
    build_dataset(BuildConfig(seed_dir=seed_dir, out_dir=tmp_path / "dataset", include_public=False,
                              extra=tuple(map(str, retrain.extra))))  # fmt: skip
    dataset = load_dataset(tmp_path / "dataset")
    config = train_config(retrain.preset, {"dataset_dir": tmp_path / "dataset", **retrain.train_overrides})
    weights = sample_weights(config, dataset)

    rows = {r.id: (n, r) for n, r in enumerate(dataset.train) if r.source == "review"}
    (appeal_at, appeal_row), (plain_at, plain_row) = rows[f"review-{appealed}"], rows[f"review-{plain}"]
    assert APPEAL_CORRECTION_TAG in appeal_row.tags and APPEAL_CORRECTION_TAG not in plain_row.tags
    assert (appeal_row.label, plain_row.label) == ("supportive", "supportive")  # one (label, source) cell
    declared = config.tag_weights[APPEAL_CORRECTION_TAG]
    assert declared > 1
    assert weights[appeal_at] / weights[plain_at] == pytest.approx(declared)
    linear = linear_sample_weights(config, dataset)  # the linear stage counts it as many rows too
    assert linear[appeal_at] / linear[plain_at] == pytest.approx(declared)
