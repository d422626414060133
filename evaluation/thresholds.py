"""Action thresholds on the calibrated P(harassing), chosen on validation and written into the bundle.

Serving hides a post when P(harassing) ≥ hide and sends it to review when ≥ review (withyou/policy.py).

- `hide` = the LOWEST threshold whose harassing precision on validation is ≥ `precision_target` (default 0.95):
  hide as much abuse as possible while at most ~1 in 20 hidden posts is not abuse.
- `review` = the HIGHEST threshold whose harassing recall on validation is ≥ `recall_target` (default 0.90):
  the smallest review load that still catches ~9 in 10 abusive posts.

Candidate thresholds are the observed validation scores; a post is flagged when its score is ≥ the threshold,
exactly as serving decides.

Fallbacks (each one is recorded in `notes` and shown in the report):
- no threshold reaches the precision target → hide = 1.0 (the highest value withyou.policy.Thresholds allows):
  automatic hiding is effectively off and everything flagged goes to human review. Hiding a disclosure is the
  worst error, so when precision cannot be shown, nothing is hidden automatically. ("Effectively": serving
  hides at P ≥ hide, so a post whose calibrated P(harassing) rounds to exactly 1.0 would still be hidden.)
- review > hide (the hide threshold already reaches the recall target) → review = hide: everything flagged is
  hidden, the review band is empty.
- validation holds no harassing post → ThresholdError: there is nothing to choose thresholds from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from evaluation.config import DEFAULT_PRECISION_TARGET, DEFAULT_RECALL_TARGET
from evaluation.metrics import DISCLOSURE, binary_metrics
from withyou.policy import Thresholds


class ThresholdError(ValueError):
    """Thresholds cannot be chosen from the data given."""


@dataclass(frozen=True)
class OperatingCurve:
    """Precision and recall of `score ≥ t` at every distinct observed score t, thresholds descending."""

    thresholds: np.ndarray
    precision: np.ndarray
    recall: np.ndarray

    @classmethod
    def from_scores(cls, is_positive: np.ndarray, score: np.ndarray) -> "OperatingCurve":
        is_positive = np.asarray(is_positive, dtype=bool)
        score = np.asarray(score, dtype=np.float64)
        if not is_positive.any():
            raise ThresholdError("no harassing example in the data: cannot choose action thresholds")
        order = np.argsort(-score, kind="mergesort")
        sorted_score = score[order]
        true_positives = np.cumsum(is_positive[order])
        flagged = np.arange(1, len(order) + 1)
        last_of_each = np.r_[np.nonzero(np.diff(sorted_score))[0], len(order) - 1]
        return cls(
            thresholds=sorted_score[last_of_each],
            precision=true_positives[last_of_each] / flagged[last_of_each],
            recall=true_positives[last_of_each] / is_positive.sum(),
        )


@dataclass
class ThresholdChoice:
    thresholds: Thresholds
    precision_target: float
    recall_target: float
    hide_target_met: bool
    review_target_met: bool
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "review": self.thresholds.review,
            "hide": self.thresholds.hide,
            "source": self.thresholds.source,
            "precision_target": self.precision_target,
            "recall_target": self.recall_target,
            "hide_target_met": self.hide_target_met,
            "review_target_met": self.review_target_met,
            "notes": list(self.notes),
        }


def choose_thresholds(
    is_harassing: np.ndarray,
    p_harassing: np.ndarray,
    *,
    precision_target: float = DEFAULT_PRECISION_TARGET,
    recall_target: float = DEFAULT_RECALL_TARGET,
) -> ThresholdChoice:
    """Pick (review, hide) on validation scores by the rules and fallbacks in the module docstring."""
    for name, value in (("precision_target", precision_target), ("recall_target", recall_target)):
        if not 0.0 < value <= 1.0:
            raise ThresholdError(f"{name} must be in (0, 1], got {value}")
    curve = OperatingCurve.from_scores(is_harassing, p_harassing)
    notes: list[str] = []

    precise = np.nonzero(curve.precision >= precision_target)[0]
    hide_target_met = bool(len(precise))
    if hide_target_met:
        hide = float(curve.thresholds[precise].min())
    else:
        hide = 1.0
        notes.append(
            f"no threshold reaches harassing precision ≥ {precision_target:.2f} on validation "
            f"(best {curve.precision.max():.3f}); hide set to 1.0 — automatic hiding is off, flagged posts go to review"
        )

    recalled = np.nonzero(curve.recall >= recall_target)[0]
    review_target_met = bool(len(recalled))  # always true when positives exist: the lowest score flags them all
    review = float(curve.thresholds[recalled].max()) if review_target_met else 0.0

    if review > hide:
        notes.append(
            f"the hide threshold {hide:.4f} already reaches recall ≥ {recall_target:.2f}; "
            f"review lowered from {review:.4f} to {hide:.4f} (no separate review band)"
        )
        review = hide
    return ThresholdChoice(
        thresholds=Thresholds(review=review, hide=hide, source="validation"),
        precision_target=precision_target,
        recall_target=recall_target,
        hide_target_met=hide_target_met,
        review_target_met=review_target_met,
        notes=notes,
    )


def threshold_performance(is_harassing: np.ndarray, p_harassing: np.ndarray, thresholds: Thresholds) -> dict:
    """What each threshold achieves on some split: harassing precision/recall of `P ≥ hide` and of `P ≥ review`."""
    return {
        "hide": binary_metrics(is_harassing, p_harassing, thresholds.hide),
        "review_or_hide": binary_metrics(is_harassing, p_harassing, thresholds.review),
    }


def disclosure_exposure(y_true: np.ndarray, p_harassing: np.ndarray, thresholds: Thresholds) -> dict:
    """How true disclosures would be treated: share hidden, and share hidden or sent to review."""
    disclosures = np.asarray(y_true) == DISCLOSURE
    scores = np.asarray(p_harassing)[disclosures]
    if not disclosures.any():
        return {"n_disclosures": 0, "hide_share": None, "review_or_hide_share": None}
    return {
        "n_disclosures": int(disclosures.sum()),
        "hide_share": float((scores >= thresholds.hide).mean()),
        "review_or_hide_share": float((scores >= thresholds.review).mean()),
    }


def write_thresholds(bundle_dir: Path, thresholds: Thresholds) -> Path:
    """Write the bundle's `thresholds.json` in the withyou.policy.Thresholds schema (and its checksum in
    metadata.json, so the bundle still verifies)."""
    from withyou.integrity import write_bundle_json

    return write_bundle_json(Path(bundle_dir), "thresholds.json", thresholds.model_dump())
