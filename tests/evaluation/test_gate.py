"""The promotion gate on metrics alone (the end-to-end CLI gate is in test_cli.py)."""

import numpy as np
import pytest

from evaluation.gate import GateScores, compare

CHAMPION = GateScores("v1", macro_f1=0.80, disclosure_to_harassing_rate=0.02)


def test_challenger_worse_on_macro_f1_beyond_tolerance_fails():
    verdict = compare(GateScores("v2", 0.78, 0.02), CHAMPION, tolerance=0.01)
    assert not verdict.passed
    assert "macro-F1" in verdict.reasons[0]


def test_challenger_within_tolerance_passes():
    verdict = compare(GateScores("v2", 0.795, 0.025), CHAMPION, tolerance=0.01)
    assert verdict.passed
    assert "PASS" in verdict.summary()


def test_higher_disclosure_to_harassing_rate_fails_even_with_better_f1():
    verdict = compare(GateScores("v2", 0.90, 0.05), CHAMPION, tolerance=0.01)
    assert not verdict.passed
    assert "disclosure→harassing" in verdict.summary()


def test_identical_model_passes_at_zero_tolerance():
    assert compare(CHAMPION, CHAMPION, tolerance=0.0).passed


def test_scores_from_predictions_use_argmax_labels():
    y = np.array([0, 0, 2, 3])
    probs = np.array([[0.1, 0, 0.9, 0], [0.9, 0, 0.1, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    scores = GateScores.from_predictions("v", y, probs)
    assert scores.disclosure_to_harassing_rate == pytest.approx(0.5)


def test_negative_tolerance_is_rejected():
    with pytest.raises(ValueError, match="tolerance"):
        compare(CHAMPION, CHAMPION, tolerance=-0.1)
