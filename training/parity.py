"""The export's parity check and the int8 rule: does the ONNX bundle answer as torch does?

Parity is measured through the serving path itself (withyou.bundle.Classifier, tokenisation included) on the parity
set (the validation split). The fp32 graph must match torch's logits within `max_abs_diff` (training/export.py
fails the export otherwise). The int8 graph is shipped as model.onnx only under the int8 rule (issue 11): its labels
agree with torch on ≥ 99.5 % of the parity posts whose torch top-2 probability margin is ≥ 0.1 (near ties, where
any rounding flips the label, are left out) AND its allow/review/hide actions — from P(harassing) at temperature 1
and the thresholds the export is given — agree on ≥ 99.5 % of all parity posts; otherwise the fused fp32 graph is
shipped. The bars are TrainConfig's (`parity_min_int8_agreement`, `parity_int8_min_margin`), declared once there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from training.config import TrainConfig
from withyou.bundle import Classifier, softmax
from withyou.policy import Thresholds, decide_action


@dataclass(frozen=True)
class Int8Agreement:
    """How the int8 graph's answers compare with torch's on the parity set (the int8 rule, module docstring)."""

    confident_examples: int
    """Parity posts whose torch top-2 probability margin is ≥ min_margin."""
    label_agreement: float | None
    """Share of those posts where int8 and torch pick the same label (None when there are none: int8 not shipped)."""
    action_agreement: float
    """Share of all parity posts where int8 and torch lead to the same allow/review/hide action."""
    min_margin: float
    min_agreement: float
    thresholds: dict[str, Any]

    @property
    def ship_int8(self) -> bool:
        return (
            self.label_agreement is not None
            and self.label_agreement >= self.min_agreement
            and self.action_agreement >= self.min_agreement
        )


def int8_rule(
    reference: np.ndarray, int8: np.ndarray, *, harassing_index: int, thresholds: Thresholds,
    min_agreement: float = TrainConfig.parity_min_int8_agreement, min_margin: float = TrainConfig.parity_int8_min_margin,
) -> Int8Agreement:
    """Decide int8 or fp32 from torch logits (`reference`) and int8 logits on the same posts (module docstring)."""
    torch_probs, int8_probs = softmax(reference), softmax(int8)
    top2 = np.sort(torch_probs, axis=1)[:, -2:] if len(torch_probs) else np.zeros((0, 2))
    confident = (top2[:, 1] - top2[:, 0]) >= min_margin
    same_label = torch_probs.argmax(axis=1) == int8_probs.argmax(axis=1)
    actions = [
        [decide_action(float(p), thresholds) for p in probs[:, harassing_index]] for probs in (torch_probs, int8_probs)
    ]
    same_action = np.array([a == b for a, b in zip(*actions)], dtype=bool)
    return Int8Agreement(
        confident_examples=int(confident.sum()),
        label_agreement=float(same_label[confident].mean()) if confident.any() else None,
        action_agreement=float(same_action.mean()) if len(same_action) else 0.0,
        min_margin=min_margin,
        min_agreement=min_agreement,
        thresholds=thresholds.model_dump(),
    )


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
