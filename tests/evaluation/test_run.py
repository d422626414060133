"""evaluation/run.py: which bundles the evaluation grades."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.run import BundleScorer, EvaluationConfig, EvaluationError, evaluate_bundle
from tests.tiny_bundles import export_tiny
from withyou.bundle import Classifier
from withyou.labels import LABELS

pytestmark = pytest.mark.slow


def test_a_bundle_with_a_label_the_guide_lacks_is_refused_not_graded_on_a_subset(tmp_path, tiny_dataset_dir):
    bundle = export_tiny("bert", tmp_path / "bundle", labels=(*LABELS, "threat"))
    with pytest.raises(EvaluationError, match=r"extra \['threat'\], missing \[\]"):
        evaluate_bundle(bundle, EvaluationConfig(dataset_dir=tiny_dataset_dir, log_mlflow=False))


def test_a_bundle_with_the_guides_labels_in_another_order_is_scored_in_guide_order(tmp_path):
    bundle = export_tiny("bert", tmp_path / "bundle", labels=tuple(reversed(LABELS)))
    classifier = Classifier.from_bundle(bundle)
    texts, parents = ["you are lying", "me too"], [None, None]
    raw = classifier.logits(texts, parents)
    scored = BundleScorer(classifier).logits(texts, parents)
    assert np.allclose(scored, raw[:, ::-1])
