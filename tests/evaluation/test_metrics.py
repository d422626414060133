"""Metrics checked against numbers worked out by hand."""

import numpy as np
import pytest

from evaluation.metrics import (
    best_f1_threshold,
    binary_metrics,
    classification_metrics,
    expected_calibration_error,
    label_ids,
    reliability_bins,
)

# LABELS order: disclosure=0, supportive=1, harassing=2, neutral=3
Y_TRUE = np.array([0, 0, 0, 2, 2, 3])
# argmax predictions:  0, 2, 0, 2, 3, 3
PROBS = np.array(
    [
        [0.70, 0.10, 0.10, 0.10],
        [0.30, 0.10, 0.50, 0.10],
        [0.60, 0.20, 0.10, 0.10],
        [0.10, 0.10, 0.80, 0.00],
        [0.10, 0.10, 0.20, 0.60],
        [0.10, 0.00, 0.00, 0.90],
    ]
)


def test_per_label_precision_recall_f1_match_hand_counts():
    metrics = classification_metrics(Y_TRUE, PROBS)
    # disclosure: predicted for rows 0,2 (both right) → P=1, R=2/3, F1=0.8
    assert metrics["per_label"]["disclosure"]["precision"] == pytest.approx(1.0)
    assert metrics["per_label"]["disclosure"]["recall"] == pytest.approx(2 / 3)
    assert metrics["per_label"]["disclosure"]["f1"] == pytest.approx(0.8)
    # harassing: predicted for rows 1 (wrong), 3 (right) → P=1/2, R=1/2, F1=1/2
    assert metrics["per_label"]["harassing"]["f1"] == pytest.approx(0.5)
    # neutral: predicted for rows 4 (wrong), 5 (right) → P=1/2, R=1, F1=2/3
    assert metrics["per_label"]["neutral"]["f1"] == pytest.approx(2 / 3)


def test_macro_f1_averages_only_labels_that_occur():
    metrics = classification_metrics(Y_TRUE, PROBS)
    # supportive never occurs nor is predicted: macro over disclosure, harassing, neutral
    assert metrics["macro_f1"] == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    assert metrics["accuracy"] == pytest.approx(4 / 6)


def test_confusion_matrix_rows_are_true_labels():
    matrix = classification_metrics(Y_TRUE, PROBS)["confusion_matrix"]
    assert matrix[0] == [2, 0, 1, 0]
    assert matrix[2] == [0, 0, 1, 1]
    assert matrix[3] == [0, 0, 0, 1]


def test_disclosure_to_harassing_rate_is_share_of_disclosures_predicted_harassing():
    assert classification_metrics(Y_TRUE, PROBS)["disclosure_to_harassing_rate"] == pytest.approx(1 / 3)


def test_one_vs_rest_auc_by_hand_and_none_for_absent_label():
    metrics = classification_metrics(Y_TRUE, PROBS)
    # harassing scores: positives 0.80, 0.20; negatives 0.10, 0.50, 0.10, 0.00
    # pairs won: 0.80 beats all 4, 0.20 beats 3 of 4 → ROC-AUC 7/8
    assert metrics["per_label"]["harassing"]["roc_auc"] == pytest.approx(7 / 8)
    # ranking 0.80(+) 0.50(-) 0.20(+): AP = 1/2·1 + 1/2·(2/3)
    assert metrics["per_label"]["harassing"]["pr_auc"] == pytest.approx(0.5 + 1 / 3)
    assert metrics["per_label"]["supportive"]["roc_auc"] is None


def test_ece_of_hand_binned_example():
    y = np.array([0, 0, 1, 1])
    probs = np.array(
        [
            [0.9, 0.1, 0, 0],  # conf 0.9, right
            [0.9, 0.1, 0, 0],  # conf 0.9, right
            [0.6, 0.4, 0, 0],  # conf 0.6, wrong
            [0.4, 0.6, 0, 0],  # conf 0.6, right
        ]
    )
    # 10 bins: bin (0.8,0.9] acc 1 conf 0.9 → 0.1; bin (0.5,0.6] acc 0.5 conf 0.6 → 0.1; ECE = 0.5·0.1 + 0.5·0.1
    assert expected_calibration_error(y, probs, n_bins=10) == pytest.approx(0.1)


def test_confidence_on_a_bin_edge_falls_in_the_lower_bin():
    bins = reliability_bins(np.array([0]), np.array([[0.5, 0.5, 0, 0]]), n_bins=10)
    assert bins[4]["count"] == 1 and bins[4]["upper"] == pytest.approx(0.5)


def test_perfectly_confident_and_right_has_zero_ece():
    y = np.array([0, 1, 2, 3])
    assert expected_calibration_error(y, np.eye(4)) == pytest.approx(0.0)


def test_binary_metrics_at_threshold():
    result = binary_metrics(np.array([True, True, False, False]), np.array([0.9, 0.4, 0.6, 0.1]), 0.5)
    assert (result["precision"], result["recall"], result["f1"]) == pytest.approx((0.5, 0.5, 0.5))
    assert result["flagged_share"] == pytest.approx(0.5)


def test_best_f1_threshold_picks_the_cut_that_catches_both_positives():
    # cuts: 0.9 → F1 2/3; 0.6 → P 1/2 R 1/2; 0.4 → P 2/3 R 1 → F1 0.8; 0.1 → P 1/2 R 1 → 2/3
    assert best_f1_threshold(np.array([True, True, False, False]), np.array([0.9, 0.4, 0.6, 0.1])) == 0.4


def test_unknown_label_name_is_an_error_naming_it():
    with pytest.raises(ValueError, match="spam"):
        label_ids(["disclosure", "spam"])


def test_wrong_probability_shape_is_an_error():
    with pytest.raises(ValueError, match="shape"):
        classification_metrics(np.array([0, 1]), np.ones((2, 3)) / 3)
