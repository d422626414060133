"""Temperature scaling on toy logits whose confidence is deliberately wrong."""

import json

import numpy as np
import pytest

from evaluation.calibration import calibrate, fit_temperature, negative_log_likelihood, write_calibration
from evaluation.metrics import expected_calibration_error
from withyou.bundle import softmax


def overconfident_toy(n=4000, seed=0, scale=4.0):
    """Labels drawn from softmax(z); the model reports scale·z, so it is `scale`× too sharp (true T = scale)."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 1.5, size=(n, 4))
    probs = softmax(true_logits)
    y = np.array([rng.choice(4, p=p) for p in probs])
    return scale * true_logits, y


def test_fitted_temperature_recovers_the_overconfidence_factor():
    logits, y = overconfident_toy()
    assert fit_temperature(logits, y) == pytest.approx(4.0, rel=0.1)


def test_calibration_lowers_ece_on_an_overconfident_toy():
    logits, y = overconfident_toy()
    result = calibrate(logits, y, n_bins=15)
    assert result.ece_before > 0.1
    assert result.ece_after < result.ece_before / 3
    assert result.nll_after < result.nll_before


def test_temperature_fitted_on_one_half_lowers_ece_on_the_other():
    logits, y = overconfident_toy(n=6000, seed=1)
    temperature = fit_temperature(logits[:3000], y[:3000])
    before = expected_calibration_error(y[3000:], softmax(logits[3000:]))
    after = expected_calibration_error(y[3000:], softmax(logits[3000:], temperature))
    assert after < before / 3


def test_underconfident_logits_get_a_temperature_below_one():
    logits, y = overconfident_toy(scale=0.4)
    assert fit_temperature(logits, y) < 1.0


def test_nll_at_the_fitted_temperature_is_not_beaten_nearby():
    logits, y = overconfident_toy(n=1000)
    t = fit_temperature(logits, y)
    best = negative_log_likelihood(logits, y, t)
    assert best <= negative_log_likelihood(logits, y, t * 1.1)
    assert best <= negative_log_likelihood(logits, y, t / 1.1)


def test_write_calibration_stores_temperature_where_the_bundle_reads_it(tmp_path):
    logits, y = overconfident_toy(n=500)
    result = calibrate(logits, y)
    write_calibration(tmp_path, result)
    stored = json.loads((tmp_path / "calibration.json").read_text())
    assert stored["temperature"] == pytest.approx(result.temperature)
    assert stored["fitted_on"] == "validation"
