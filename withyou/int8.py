"""The int8 rule: may a bundle ship its int8 graph, or must model.onnx be the fp32 one? (issue 11, issue 20)

int8 ships only when, against a reference (torch at export; the bundle's model.fp32.onnx, within 1e-4 of torch,
at evaluation): its labels agree on ≥ `min_agreement` of the posts whose reference top-2 probability margin is ≥
`min_margin` (near ties, where any rounding flips the label, are left out) AND its allow/review/hide actions agree
on ≥ `min_agreement` of all posts. Probabilities are softmax(logits / temperature) and actions come from
P(harassing) at `thresholds`: the export decides at the placeholder T = 1, 0.5 / 0.9 (training/export.py), and
evaluation decides again at the temperature and thresholds it fitted (evaluation/int8.py), which are what serving
uses. The bars are TrainConfig's (`parity_min_int8_agreement`, `parity_int8_min_margin`), recorded in the bundle's
metadata.json `parity.int8`. Here because two stages decide with it, and stages never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from withyou.bundle import softmax
from withyou.policy import Thresholds, decide_action


@dataclass(frozen=True)
class Int8Agreement:
    """How the int8 graph's answers compare with the reference's on the parity set (module docstring)."""

    confident_examples: int
    """Parity posts whose reference top-2 probability margin is ≥ min_margin."""
    label_agreement: float | None
    """Share of those posts where int8 and the reference pick the same label (None when there are none: fp32)."""
    action_agreement: float
    """Share of all parity posts where int8 and the reference lead to the same allow/review/hide action."""
    min_margin: float
    min_agreement: float
    thresholds: dict[str, Any]
    temperature: float = 1.0

    @property
    def ship_int8(self) -> bool:
        return (
            self.label_agreement is not None
            and self.label_agreement >= self.min_agreement
            and self.action_agreement >= self.min_agreement
        )


def int8_rule(
    reference: np.ndarray, int8: np.ndarray, *, harassing_index: int, thresholds: Thresholds, min_agreement: float,
    min_margin: float, temperature: float = 1.0,
) -> Int8Agreement:
    """Decide int8 or fp32 from reference logits and int8 logits on the same posts (module docstring)."""
    reference_probs, int8_probs = softmax(reference, temperature), softmax(int8, temperature)
    top2 = np.sort(reference_probs, axis=1)[:, -2:] if len(reference_probs) else np.zeros((0, 2))
    confident = (top2[:, 1] - top2[:, 0]) >= min_margin
    same_label = reference_probs.argmax(axis=1) == int8_probs.argmax(axis=1)
    actions = [
        [decide_action(float(p), thresholds) for p in probs[:, harassing_index]] for probs in (reference_probs, int8_probs)
    ]
    same_action = np.array([a == b for a, b in zip(*actions)], dtype=bool)
    return Int8Agreement(
        confident_examples=int(confident.sum()),
        label_agreement=float(same_label[confident].mean()) if confident.any() else None,
        action_agreement=float(same_action.mean()) if len(same_action) else 0.0,
        min_margin=min_margin,
        min_agreement=min_agreement,
        thresholds=thresholds.model_dump(),
        temperature=temperature,
    )
