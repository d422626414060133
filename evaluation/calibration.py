"""Temperature scaling (Guo et al., 2017): one scalar T, fitted on validation logits, makes scores mean what they say.

Serving divides logits by T before the softmax (withyou/bundle.py), so the temperature fitted here is written into
the bundle's `calibration.json`. T is found by minimising the mean negative log-likelihood of the validation labels
over log T in a bounded interval (scipy's bounded Brent search): one parameter, a smooth convex-in-practice curve,
no need for gradients. Dividing by T never changes the argmax, so accuracy and F1 stay as they were.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax

from evaluation.metrics import DEFAULT_ECE_BINS, expected_calibration_error
from withyou.bundle import softmax

MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0


def negative_log_likelihood(logits: np.ndarray, y_true: np.ndarray, temperature: float = 1.0) -> float:
    """Mean NLL of the true labels under softmax(logits / temperature)."""
    log_probs = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-log_probs[np.arange(len(y_true)), y_true].mean())


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> float:
    """The T in [MIN_TEMPERATURE, MAX_TEMPERATURE] that minimises validation NLL."""
    logits = np.asarray(logits, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    if len(y_true) == 0:
        raise ValueError("cannot fit a temperature on an empty validation set")
    result = minimize_scalar(
        lambda log_t: negative_log_likelihood(logits, y_true, math.exp(log_t)),
        bounds=(math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)),
        method="bounded",
        options={"xatol": 1e-4},
    )
    return float(math.exp(result.x))


@dataclass(frozen=True)
class CalibrationResult:
    """The fitted temperature and what it did on the data it was fitted on (validation)."""

    temperature: float
    fitted_on: str
    n: int
    nll_before: float
    nll_after: float
    ece_before: float
    ece_after: float
    ece_bins: int

    def to_json(self) -> dict:
        return asdict(self)


def scaled_probabilities(logits: np.ndarray, temperature: float) -> np.ndarray:
    return softmax(np.asarray(logits), temperature)


def calibrate(
    logits: np.ndarray, y_true: np.ndarray, *, n_bins: int = DEFAULT_ECE_BINS, fitted_on: str = "validation"
) -> CalibrationResult:
    """Fit T on (logits, labels) and measure NLL and ECE before (T=1) and after."""
    temperature = fit_temperature(logits, y_true)
    return CalibrationResult(
        temperature=temperature,
        fitted_on=fitted_on,
        n=int(len(y_true)),
        nll_before=negative_log_likelihood(logits, y_true, 1.0),
        nll_after=negative_log_likelihood(logits, y_true, temperature),
        ece_before=expected_calibration_error(y_true, scaled_probabilities(logits, 1.0), n_bins),
        ece_after=expected_calibration_error(y_true, scaled_probabilities(logits, temperature), n_bins),
        ece_bins=n_bins,
    )


def write_calibration(bundle_dir: Path, result: CalibrationResult) -> Path:
    """Write `calibration.json`: {"temperature": T, ...how it was fitted} (and its checksum in metadata.json).
    Serving reads only `temperature`."""
    from withyou.integrity import write_bundle_json

    return write_bundle_json(Path(bundle_dir), "calibration.json", result.to_json())
