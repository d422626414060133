"""A bundle with a linear stage, graded stage by stage: the transformer alone, the linear stage alone, the blend
(what is served without the cascade: evaluation's `model` column) and the cascade (what is served).

`stage_scorers` gives the three extra columns as scorers (texts, parents → probabilities in LABELS order), so
the benchmarks, the bias suite and the own test split grade them exactly as they grade the served model.
`fit_and_record_cascade` fits the cascade's bar on validation at the fitted thresholds (evaluation/cascade.py)
and writes it into blend.json; `stages_section` is metrics["stages"]: the blend weight, the bar, and the share of
posts the linear stage answers with the action agreement against the blend on every set graded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from evaluation.cascade import coverage, fit_cascade, realistic_mix
from withyou.bundle import Classifier, softmax
from withyou.integrity import read_json, write_bundle_json
from withyou.labels import LABELS
from withyou.policy import Thresholds
from withyou.records import Record

Scorer = Callable[[Sequence[str], Sequence[str | None]], np.ndarray]
COLUMNS = ("transformer", "linear", "cascade")
"""Evaluation columns of a bundle with a linear stage, beside `model` (the blend)."""


class Remembered:
    """A scoring function (texts, parents → rows) that scores each distinct (text, parent) once per evaluation.

    Evaluation grades the same posts in several columns (the blend, the transformer alone, the cascade), each of
    which runs the transformer and the linear stage on them; `remember` puts this in front of a Classifier's
    `logits` and `linear_probabilities`, so each post costs one run of each."""

    def __init__(self, score: Callable[..., np.ndarray]) -> None:
        self.score, self.rows = score, {}

    def __call__(self, texts: Sequence[str], parent_texts: Sequence[str | None] | None = None) -> np.ndarray:
        keys = list(zip(texts, parent_texts if parent_texts is not None else [None] * len(texts)))
        missing = list(dict.fromkeys(key for key in keys if key not in self.rows))
        if missing:
            scored = self.score([text for text, _ in missing], [parent for _, parent in missing])
            self.rows.update(zip(missing, scored))
        if not keys:
            return self.score([], [])
        return np.stack([self.rows[key] for key in keys])


def remember(classifier: Classifier) -> Classifier:
    """`classifier` with its transformer logits and linear probabilities remembered per post (`Remembered`)."""
    classifier.logits = Remembered(classifier.logits)  # type: ignore[method-assign]
    if classifier.linear is not None:
        classifier.linear_probabilities = Remembered(classifier.linear_probabilities)  # type: ignore[method-assign]
    return classifier


def stage_scorers(classifier: Classifier, thresholds: Thresholds) -> dict[str, Scorer]:
    """transformer (its own softmax, T = 1), linear, and cascade (at `thresholds`) — LABELS-ordered columns."""
    columns = [classifier.labels.index(label) for label in LABELS]

    def transformer(texts, parents):
        return softmax(classifier.logits(list(texts), list(parents)))[:, columns] if len(texts) else _empty()

    def linear(texts, parents):
        return classifier.linear_probabilities(list(texts), list(parents))[:, columns] if len(texts) else _empty()

    def cascade(texts, parents):
        return classifier.staged_proba(list(texts), list(parents), thresholds)[0][:, columns] if len(texts) else _empty()

    return {"transformer": transformer, "linear": linear, "cascade": cascade}


def _empty() -> np.ndarray:
    return np.zeros((0, len(LABELS)))


def fit_and_record_cascade(classifier: Classifier, validation: Sequence[Record], val_probs: np.ndarray,
                           thresholds: Thresholds, write: bool) -> dict[str, Any]:
    """Fit the bar on validation (`val_probs`: the blend's calibrated probabilities in LABELS order), set it on
    `classifier` and, when `write`, record it in the bundle's blend.json (checksum kept true)."""
    texts, parents = [r.text for r in validation], [r.parent_text for r in validation]
    reads = np.array(classifier.reads_linear(texts))
    columns = [classifier.labels.index(label) for label in LABELS]
    linear = classifier.linear_probabilities(texts, parents)[:, columns]
    y = np.array([LABELS.index(r.label) for r in validation])
    fitted = fit_cascade(y, val_probs, linear, reads, thresholds)
    classifier.blend = dataclasses.replace(classifier.blend, cascade_below=fitted["linear_allow_below"],
                                           cascade_sure_above=fitted["linear_sure_above"])
    if write:
        blend = read_json(Path(classifier.path) / "blend.json")
        write_bundle_json(classifier.path, "blend.json", {**blend, "cascade": fitted})
    return fitted


def stages_section(classifier: Classifier, thresholds: Thresholds, cascade: dict[str, Any],
                   sets: dict[str, Sequence[Record]], test: Sequence[Record]) -> dict[str, Any]:
    """metrics["stages"]: which stages, the blend weight, the bars, and coverage per set (every set in `sets`, plus
    two realistic mixes drawn from `test`: from all its posts, and from its replies alone — a platform's traffic
    is mostly replies, where the parent decides more and the linear stage reads context less well)."""
    graded = {**sets, "realistic_mix": realistic_mix(test)}
    replies = [r for r in test if r.parent_text]
    if replies:
        graded["realistic_replies"] = realistic_mix(replies)
    return {
        "stages": list(classifier.stages),
        "blend_weight": classifier.blend.weight,
        "linear_languages": list(classifier.blend.languages),
        "cascade": cascade,
        "coverage": {name: cascade_coverage(classifier, records, thresholds) for name, records in graded.items()},
    }


def cascade_coverage(classifier: Classifier, records: Sequence[Record], thresholds: Thresholds) -> dict[str, Any]:
    texts, parents = [r.text for r in records], [r.parent_text for r in records]
    columns = [classifier.labels.index(label) for label in LABELS]
    served, stages = classifier.staged_proba(texts, parents, thresholds)
    blend = softmax(classifier.scores(texts, parents), classifier.temperature)
    y = np.array([LABELS.index(r.label) if r.label in LABELS else -1 for r in records])
    return coverage(stages, served[:, columns], blend[:, columns], thresholds, y)
