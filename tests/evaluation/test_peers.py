"""Side-by-side models: the TF-IDF baseline from training and alt-profanity-check on the same test data."""

import joblib
import numpy as np
import pytest

from evaluation.metrics import HARASSING
from evaluation.peers import BaselineError, BaselineScorer, harassing_vs_rest, profanity_scores
from evaluation.run import EvaluationConfig, evaluate_bundle
from withyou.records import read_jsonl


def test_profanity_check_scores_a_slur_above_a_greeting():
    scores = profanity_scores(["have a lovely afternoon", "shut up you stupid bitch"])
    assert scores[1] > 0.5 > scores[0]


def test_harassing_vs_rest_applies_the_validation_best_cut_off_to_test():
    y_val = np.array([HARASSING, HARASSING, 0, 0])
    y_test = np.array([HARASSING, 0, 0])
    result = harassing_vs_rest(y_val, np.array([0.3, 0.2, 0.1, 0.05]), y_test, np.array([0.25, 0.15, 0.6]))
    assert result["at_validation_best"]["threshold"] == pytest.approx(0.2)
    assert result["at_validation_best"]["precision"] == pytest.approx(0.5)  # flags 0.25 (right) and 0.6 (wrong)
    assert result["at_0.5"]["recall"] == 0.0


def test_file_that_is_not_a_model_is_a_baseline_error(tmp_path):
    joblib.dump({"not": "a model"}, tmp_path / "baseline.joblib")
    with pytest.raises(BaselineError, match="predict_proba"):
        BaselineScorer(tmp_path / "baseline.joblib")


@pytest.mark.slow
def test_baseline_beside_the_bundle_is_scored_side_by_side(bundle_copy, tiny_dataset_dir):
    from training.baseline import BaselineClassifier

    train = read_jsonl(tiny_dataset_dir / "train.jsonl")
    baseline = BaselineClassifier(min_df=1).fit(
        [{"text": r.text, "parent_text": r.parent_text} for r in train], [r.label for r in train]
    )
    joblib.dump(baseline, bundle_copy.parent / "baseline.joblib")
    metrics = evaluate_bundle(bundle_copy, EvaluationConfig(dataset_dir=tiny_dataset_dir, write_bundle=False)).metrics
    peers = metrics["peers"]
    assert set(peers) == {"model", "baseline", "profanity_check"}
    assert 0.0 <= peers["baseline"]["macro_f1"] <= 1.0
    assert peers["profanity_check"]["harassing_vs_rest"]["pr_auc"] is not None
