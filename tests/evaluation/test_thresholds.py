"""Action-threshold selection on synthetic P(harassing) scores."""

import json

import numpy as np
import pytest

from evaluation.thresholds import (
    ThresholdError,
    choose_thresholds,
    disclosure_exposure,
    threshold_performance,
    write_thresholds,
)
from withyou.policy import Thresholds

# scores descending with truth: 10 harassing (H) and 10 not (N)
SCORES = np.array([0.99, 0.97, 0.95, 0.93, 0.90, 0.88, 0.85, 0.80, 0.75, 0.70,
                   0.65, 0.60, 0.55, 0.50, 0.45, 0.40, 0.30, 0.20, 0.10, 0.05])
TRUTH = np.array([1, 1, 1, 1, 1, 0, 1, 1, 1, 0,
                  1, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)


def test_hide_is_lowest_threshold_reaching_precision_target():
    # precision at 0.90 = 5/5; at 0.88 = 5/6 (0.83) — the last cut ≥ 0.95 is 0.90
    choice = choose_thresholds(TRUTH, SCORES, precision_target=0.95, recall_target=0.9)
    assert choice.thresholds.hide == pytest.approx(0.90)
    assert choice.hide_target_met


def test_lower_precision_target_moves_hide_down():
    # precision at 0.75: 8/9 = 0.889 ≥ 0.85; at 0.70: 8/10 = 0.8; at 0.55: 10/13 = 0.77
    choice = choose_thresholds(TRUTH, SCORES, precision_target=0.85, recall_target=0.9)
    assert choice.thresholds.hide == pytest.approx(0.75)


def test_review_is_highest_threshold_reaching_recall_target():
    # 10 positives; recall at 0.65 = 9/10 (first cut with recall ≥ 0.9 going down)
    choice = choose_thresholds(TRUTH, SCORES, precision_target=0.95, recall_target=0.9)
    assert choice.thresholds.review == pytest.approx(0.65)
    assert choice.thresholds.source == "validation"


def test_unreachable_precision_turns_automatic_hiding_off_with_a_note():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    truth = np.array([False, True, False, True])
    choice = choose_thresholds(truth, scores, precision_target=0.95)
    assert choice.thresholds.hide == 1.0
    assert not choice.hide_target_met
    assert any("automatic hiding is off" in note for note in choice.notes)


def test_review_is_never_above_hide():
    # perfectly separated: hide at 0.7 (lowest with precision 1) already has recall 1, review would be 0.7 too
    scores = np.array([0.9, 0.8, 0.7, 0.3, 0.2])
    truth = np.array([True, True, True, False, False])
    choice = choose_thresholds(truth, scores, precision_target=0.95, recall_target=0.9)
    assert choice.thresholds.review <= choice.thresholds.hide


def test_review_lowered_to_hide_when_hide_already_has_the_recall():
    # precision target 0.5 is met down to 0.1, recall 0.9 is first met at 0.8 → review (0.8) > hide (0.1)
    scores = np.array([0.9, 0.8, 0.5, 0.1])
    truth = np.array([True, True, False, False])
    choice = choose_thresholds(truth, scores, precision_target=0.5, recall_target=0.9)
    assert choice.thresholds.review == choice.thresholds.hide == pytest.approx(0.1)
    assert any("review lowered" in note for note in choice.notes)


def test_no_harassing_example_is_an_error():
    with pytest.raises(ThresholdError, match="no harassing example"):
        choose_thresholds(np.zeros(5, dtype=bool), np.linspace(0, 1, 5))


def test_threshold_performance_reports_precision_and_recall_of_each_action():
    perf = threshold_performance(TRUTH, SCORES, Thresholds(review=0.65, hide=0.90, source="validation"))
    assert perf["hide"]["precision"] == pytest.approx(1.0)
    assert perf["hide"]["recall"] == pytest.approx(0.5)
    assert perf["review_or_hide"]["recall"] == pytest.approx(0.9)
    assert perf["review_or_hide"]["precision"] == pytest.approx(9 / 11)


def test_disclosure_exposure_counts_disclosures_hidden_or_reviewed():
    y = np.array([0, 0, 0, 0, 2])  # four disclosures and one harassing post
    p = np.array([0.95, 0.6, 0.1, 0.2, 0.99])
    exposure = disclosure_exposure(y, p, Thresholds(review=0.5, hide=0.9))
    assert exposure == {"n_disclosures": 4, "hide_share": 0.25, "review_or_hide_share": 0.5}


def test_written_thresholds_load_as_policy_thresholds(tmp_path):
    choice = choose_thresholds(TRUTH, SCORES)
    write_thresholds(tmp_path, choice.thresholds)
    loaded = Thresholds.model_validate(json.loads((tmp_path / "thresholds.json").read_text()))
    assert loaded == choice.thresholds
