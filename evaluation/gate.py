"""Promotion gate: may a challenger replace the champion?

Both models are scored on the SAME test split in the same run (stored numbers from another data build would not
be comparable). The challenger fails when, beyond an absolute `tolerance` (default 0.01):
- its test macro-F1 is lower than the champion's (macro-F1 < champion − tolerance), or
- its disclosure→harassing rate (share of true disclosures predicted harassing) is higher
  (rate > champion + tolerance).
Both use the argmax label, which temperature scaling does not change, so calibration cannot move the verdict.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from evaluation.metrics import classification_metrics

if TYPE_CHECKING:
    from evaluation.run import EvalData, Evaluation, EvaluationConfig

DEFAULT_TOLERANCE = 0.01


class GateError(ValueError):
    """The gate cannot compare the two models on this data."""


@dataclass(frozen=True)
class GateScores:
    """The two numbers the gate compares, for one model on one test split."""

    model_version: str
    macro_f1: float
    disclosure_to_harassing_rate: float

    @classmethod
    def from_predictions(cls, model_version: str, y_true: np.ndarray, probs: np.ndarray) -> "GateScores":
        metrics = classification_metrics(y_true, probs)
        rate = metrics["disclosure_to_harassing_rate"]
        if rate is None:
            raise GateError("the test split has no disclosure: the gate cannot measure the disclosure→harassing rate")
        return cls(model_version, metrics["macro_f1"], rate)


@dataclass
class GateVerdict:
    passed: bool
    challenger: GateScores
    champion: GateScores
    tolerance: float
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        head = "PASS" if self.passed else "FAIL"
        lines = [
            f"gate {head}: challenger {self.challenger.model_version} vs champion {self.champion.model_version} "
            f"(tolerance {self.tolerance:g})",
            f"  test macro-F1               challenger {self.challenger.macro_f1:.4f}   "
            f"champion {self.champion.macro_f1:.4f}",
            f"  disclosure→harassing rate   challenger {self.challenger.disclosure_to_harassing_rate:.4f}   "
            f"champion {self.champion.disclosure_to_harassing_rate:.4f}",
        ]
        lines += [f"  - {reason}" for reason in self.reasons]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "passed": self.passed,
            "tolerance": self.tolerance,
            "challenger": asdict(self.challenger),
            "champion": asdict(self.champion),
            "reasons": list(self.reasons),
        }


def compare(challenger: GateScores, champion: GateScores, tolerance: float = DEFAULT_TOLERANCE) -> GateVerdict:
    """Apply the rules in the module docstring; `reasons` says which rule failed or why it passed."""
    if tolerance < 0:
        raise ValueError(f"tolerance must be ≥ 0, got {tolerance}")
    reasons = []
    f1_drop = champion.macro_f1 - challenger.macro_f1
    rate_rise = challenger.disclosure_to_harassing_rate - champion.disclosure_to_harassing_rate
    f1_ok = f1_drop <= tolerance
    rate_ok = rate_rise <= tolerance
    if not f1_ok:
        reasons.append(f"macro-F1 is {f1_drop:.4f} below the champion's (allowed {tolerance:g})")
    if not rate_ok:
        reasons.append(f"disclosure→harassing rate is {rate_rise:.4f} above the champion's (allowed {tolerance:g})")
    if f1_ok and rate_ok:
        reasons.append("not worse than the champion on macro-F1 or disclosure→harassing rate beyond the tolerance")
    return GateVerdict(f1_ok and rate_ok, challenger, champion, tolerance, reasons)


def gate_against(champion_ref: str, challenger: "Evaluation", data: "EvalData", config: "EvaluationConfig") -> GateVerdict:
    """Re-score the champion on the challenger's test split and compare the two (never trusts stored numbers)."""
    from evaluation.run import BundleScorer, resolve_ref
    from withyou.bundle import Classifier, softmax

    champion_dir = resolve_ref(champion_ref)
    classifier = Classifier.from_bundle(champion_dir, batch_size=config.batch_size)
    champion_logits = BundleScorer(classifier).record_logits(data.test, "champion test")
    champion = GateScores.from_predictions(
        f"{classifier.model_version} ({champion_ref})", challenger.y_test, softmax(champion_logits)
    )
    challenger_scores = GateScores.from_predictions(
        challenger.metrics["model_version"], challenger.y_test, challenger.test_probs
    )
    return compare(challenger_scores, champion, config.tolerance)
