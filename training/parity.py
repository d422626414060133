"""The export's parity check and the int8 rule: does the ONNX bundle answer as torch does?

Parity is measured through the serving path itself (withyou.bundle.Classifier, tokenisation included) on the parity
set (the validation split). The fp32 graph must match torch's logits within `max_abs_diff` (training/export.py
fails the export otherwise). The int8 graph is shipped as model.onnx only under the int8 rule (withyou/int8.py),
judged here against torch at temperature 1 and the thresholds the export is given (the placeholder ones);
evaluation judges it again at the fitted temperature and thresholds (evaluation/int8.py). The bars are
TrainConfig's (`parity_min_int8_agreement`, `parity_int8_min_margin`), declared once there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from withyou.bundle import Classifier
from withyou.int8 import Int8Agreement, int8_rule
from withyou.policy import Thresholds


@dataclass(frozen=True)
class ParityReport:
    examples: int
    fp32_max_abs_diff: float
    int8_max_abs_diff: float
    int8_agreement: float
    """Label agreement of int8 with torch on all parity posts (informational; the rule uses `int8`)."""
    max_abs_diff_allowed: float
    int8: Int8Agreement
    shipped: str = "int8"
    """Which graph is model.onnx: "int8", or "fp32" when int8 missed the int8 rule."""

    @property
    def fp32_passed(self) -> bool:
        return self.fp32_max_abs_diff <= self.max_abs_diff_allowed

    @property
    def int8_passed(self) -> bool:
        return self.int8.ship_int8

    @property
    def passed(self) -> bool:
        return self.fp32_passed


def check_parity(
    bundle_dir: Path,
    reference: np.ndarray,
    texts: Sequence[str],
    parents: Sequence[str | None],
    *,
    max_abs_diff: float,
    thresholds: Thresholds,
    min_int8_agreement: float,
    int8_min_margin: float,
) -> ParityReport:
    """Score the parity set through withyou.bundle.Classifier (fp32 and int8 graphs) and compare with torch."""
    int8_classifier = Classifier.from_bundle(bundle_dir)
    int8 = int8_classifier.logits(texts, parents)
    fp32 = Classifier.from_bundle(bundle_dir, model_file="model.fp32.onnx").logits(texts, parents)
    agreement = int8_rule(
        reference, int8, harassing_index=int8_classifier.harassing_index, thresholds=thresholds,
        min_agreement=min_int8_agreement, min_margin=int8_min_margin,
    )
    return ParityReport(
        examples=len(texts),
        fp32_max_abs_diff=float(np.abs(fp32 - reference).max()),
        int8_max_abs_diff=float(np.abs(int8 - reference).max()),
        int8_agreement=float((int8.argmax(axis=1) == reference.argmax(axis=1)).mean()),
        max_abs_diff_allowed=max_abs_diff,
        int8=agreement,
        shipped="int8" if agreement.ship_int8 else "fp32",
    )


def int8_summary(parity: ParityReport) -> str:
    """One line: the int8 rule's two agreements against its bar (for warnings, CLI output and metadata)."""
    rule = parity.int8
    label = "n/a (no confident post)" if rule.label_agreement is None else f"{rule.label_agreement:.2%}"
    return (
        f"int8 labels agree with torch on {label} of {rule.confident_examples} posts with top-2 margin ≥ "
        f"{rule.min_margin:g}, actions on {rule.action_agreement:.2%} of {parity.examples} posts "
        f"(bar {rule.min_agreement:.1%} each)"
    )
