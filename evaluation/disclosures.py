"""Canonical disclosures: the movement's own words, which the model must read as disclosures and never hide.

The cases (evaluation/disclosures/cases.jsonl, in the functional suite's format: evaluation/functional/README.md;
every one labelled disclosure) are the project's own: a bare "me too" in its common forms, "me too" with one
detail, one-sentence plain reports of rape, assault and harassment — all top-level posts — and some of the same
posts under supportive and under sceptical parents. Each is read as written (with its parent when it has one), with
the calibrated scores and the fitted hide threshold.

Any case labelled harassing or hidden blocks promotion (evaluation/gate.py `canonical_clean`): the gate fails such
a challenger whatever the champion does, and the floor refuses such a model, the first one included. A case read
as supportive or neutral is a miss the report lists, not a block.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluation.functional import FunctionalCase, Scorer
from withyou.labels import LABELS

DEFAULT_DISCLOSURES_PATH = Path(__file__).resolve().parent / "disclosures" / "cases.jsonl"
DISCLOSURE, HARASSING = LABELS.index("disclosure"), LABELS.index("harassing")


def _summary(predicted: np.ndarray, hidden: np.ndarray) -> dict:
    return {
        "n": int(len(predicted)),
        "disclosure": int((predicted == DISCLOSURE).sum()),
        "harassing": int((predicted == HARASSING).sum()),
        "hidden": int(hidden.sum()),
    }


def run_disclosures(scorer: Scorer, cases: Sequence[FunctionalCase], hide_threshold: float) -> dict:
    """Counts overall and per group (`functionality`) of cases read as disclosure, as harassing, and hidden
    (P(harassing) ≥ `hide_threshold`), the two rates the gate reads, and every case not read as a disclosure."""
    probs = scorer([c.text for c in cases], [c.parent_text for c in cases])
    predicted, p_harassing = probs.argmax(axis=1), probs[:, HARASSING]
    hidden = p_harassing >= hide_threshold
    groups = sorted({c.functionality for c in cases})
    overall = _summary(predicted, hidden)
    return {
        **overall,
        "harassing_rate": overall["harassing"] / overall["n"],
        "hide_share": overall["hidden"] / overall["n"],
        "per_functionality": {
            group: _summary(*(a[[c.functionality == group for c in cases]] for a in (predicted, hidden)))
            for group in groups
        },
        "failures": [  # ids, not text: this summary goes into metrics.json
            {"id": c.id, "functionality": c.functionality, "predicted": LABELS[int(predicted[i])],
             "p_harassing": float(p_harassing[i]), "hidden": bool(hidden[i])}
            for i, c in enumerate(cases) if predicted[i] != DISCLOSURE or hidden[i]
        ],
    }
