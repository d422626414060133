"""Side-by-side models on the same test data: the transformer, the TF-IDF baseline and alt-profanity-check.

alt-profanity-check (PyPI) answers "is this text profane?", a different question, so it is scored only on
harassing-vs-rest, from `text` alone (it cannot read the parent post). For a fair table every model gets the same
harassing-vs-rest columns, computed from its score for harassing (P(harassing) for ours, P(profane) for the peer):
- PR-AUC (average precision) on test — threshold-free;
- F1 at 0.5 — the peer's own default cut-off (`profanity_check.predict`);
- F1 at the model's best cut-off — the score that maximises F1 on *validation*, applied to test, so no model is
  tuned on the data it is graded on.
The transformer and the baseline also get 4-label macro-F1 and the disclosure→harassing rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from evaluation.metrics import HARASSING, best_f1_threshold, binary_metrics, classification_metrics, label_ids
from withyou.labels import LABELS
from withyou.records import Record


class BaselineError(ValueError):
    """The baseline file cannot be loaded or does not score the four labels."""


def harassing_vs_rest(
    y_val: np.ndarray, val_score: np.ndarray, y_test: np.ndarray, test_score: np.ndarray
) -> dict:
    """The three harassing-vs-rest columns described in the module docstring."""
    best = best_f1_threshold(y_val == HARASSING, val_score)
    at_half = binary_metrics(y_test == HARASSING, test_score, 0.5)
    return {
        "pr_auc": at_half["pr_auc"],
        "at_0.5": at_half,
        "at_validation_best": binary_metrics(y_test == HARASSING, test_score, best),
    }


def four_label_summary(y_val: np.ndarray, val_probs: np.ndarray, y_test: np.ndarray, test_probs: np.ndarray) -> dict:
    metrics = classification_metrics(y_test, test_probs)
    return {
        "macro_f1": metrics["macro_f1"],
        "accuracy": metrics["accuracy"],
        "disclosure_to_harassing_rate": metrics["disclosure_to_harassing_rate"],
        "per_label_f1": {label: metrics["per_label"][label]["f1"] for label in LABELS},
        "harassing_vs_rest": harassing_vs_rest(y_val, val_probs[:, HARASSING], y_test, test_probs[:, HARASSING]),
    }


class BaselineScorer:
    """The fitted sklearn pipeline from `withyou train` (baseline.joblib), as a scorer with columns in LABELS order."""

    def __init__(self, path: Path) -> None:
        import joblib

        path = Path(path)
        if not path.is_file():
            raise BaselineError(f"no baseline model at {path}")
        try:
            self.pipeline = joblib.load(path)
        except Exception as exc:  # joblib raises anything unpickling can: name the file, keep the cause
            raise BaselineError(f"could not load baseline {path}: {exc}") from exc
        if not hasattr(self.pipeline, "predict_proba"):
            raise BaselineError(f"baseline {path} has no predict_proba (expected a fitted sklearn pipeline)")
        classes = [str(c) for c in getattr(self.pipeline, "classes_", range(len(LABELS)))]
        by_name = classes if set(classes) == set(LABELS) else [LABELS[int(c)] for c in classes]
        if sorted(by_name) != sorted(LABELS):
            raise BaselineError(f"baseline {path} predicts classes {classes}, expected {list(LABELS)}")
        self.columns = [by_name.index(label) for label in LABELS]
        self.path = path

    def __call__(self, texts: Sequence[str], parent_texts: Sequence[str | None]) -> np.ndarray:
        inputs = baseline_inputs(texts, parent_texts)
        return np.asarray(self.pipeline.predict_proba(inputs), dtype=np.float64)[:, self.columns]


def baseline_inputs(texts: Sequence[str], parent_texts: Sequence[str | None]) -> list[dict]:
    """What `withyou train`'s baseline reads (training/baseline.py): posts as dicts with text and parent_text."""
    return [{"text": text, "parent_text": parent} for text, parent in zip(texts, parent_texts)]


def profanity_scores(texts: Sequence[str]) -> np.ndarray:
    """alt-profanity-check's P(profane) per text."""
    from profanity_check import predict_prob

    if not texts:
        return np.zeros(0)
    return np.asarray(predict_prob(list(texts)), dtype=np.float64)


def peer_section(
    validation: Sequence[Record],
    test: Sequence[Record],
    transformer_probs: tuple[np.ndarray, np.ndarray],
    baseline: BaselineScorer | None,
) -> dict:
    """The side-by-side table: transformer (given its validation/test probabilities), baseline (None: no column),
    profanity-check."""
    y_val, y_test = label_ids([r.label for r in validation]), label_ids([r.label for r in test])
    section: dict = {"model": four_label_summary(y_val, transformer_probs[0], y_test, transformer_probs[1])}
    section["baseline"] = None
    if baseline is not None:
        section["baseline"] = {
            "path": str(baseline.path),
            **four_label_summary(
                y_val, baseline([r.text for r in validation], [r.parent_text for r in validation]),
                y_test, baseline([r.text for r in test], [r.parent_text for r in test]),
            ),
        }
    section["profanity_check"] = {
        "harassing_vs_rest": harassing_vs_rest(
            y_val, profanity_scores([r.text for r in validation]), y_test, profanity_scores([r.text for r in test])
        )
    }
    return section
