"""Classification metrics on label ids and probability arrays (columns in withyou.labels.LABELS order).

Everything here is a pure function of numpy arrays so it can be checked on hand-computed cases. Results are
plain dicts of floats/ints/lists (JSON-ready); a metric that is undefined on the data (ROC-AUC of a label
absent from `y_true`) is `None`, never a made-up number.

Expected calibration error (ECE) is the top-label ECE of Guo et al. (2017): each post's confidence is its
highest probability, "correct" means that label is the true one; confidences go into `n_bins` equal-width
bins over [0, 1] (bin b holds (b/n, (b+1)/n], the first bin also holds 0), and
ECE = Σ_b (n_b / n) · |accuracy_b − mean confidence_b|.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from evaluation.config import DEFAULT_ECE_BINS
from withyou.labels import LABEL_TO_ID, LABELS

DISCLOSURE = LABEL_TO_ID["disclosure"]
HARASSING = LABEL_TO_ID["harassing"]


def label_ids(labels: Sequence[str]) -> np.ndarray:
    """Label names → ids in LABELS order; an unknown name is a ValueError naming it."""
    unknown = sorted({name for name in labels if name not in LABEL_TO_ID})
    if unknown:
        raise ValueError(f"unknown label(s) {unknown}; expected one of {list(LABELS)}")
    return np.array([LABEL_TO_ID[name] for name in labels], dtype=np.int64)


def _check(y_true: np.ndarray, probs: np.ndarray) -> None:
    if probs.ndim != 2 or probs.shape[1] != len(LABELS):
        raise ValueError(f"probabilities must have shape [n, {len(LABELS)}], got {probs.shape}")
    if len(y_true) != len(probs):
        raise ValueError(f"{len(y_true)} labels but {len(probs)} probability rows")
    if len(y_true) == 0:
        raise ValueError("no examples to evaluate")


def reliability_bins(y_true: np.ndarray, probs: np.ndarray, n_bins: int = DEFAULT_ECE_BINS) -> list[dict]:
    """Per equal-width confidence bin: its edges, count, accuracy and mean confidence (empty bins included)."""
    _check(y_true, probs)
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y_true
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # right-closed bins: searchsorted(side="left") puts a value equal to an edge into the bin that edge closes
    index = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    bins = []
    for b in range(n_bins):
        in_bin = index == b
        count = int(in_bin.sum())
        bins.append(
            {
                "lower": float(edges[b]),
                "upper": float(edges[b + 1]),
                "count": count,
                "accuracy": float(correct[in_bin].mean()) if count else None,
                "confidence": float(confidence[in_bin].mean()) if count else None,
            }
        )
    return bins


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, n_bins: int = DEFAULT_ECE_BINS) -> float:
    """Top-label ECE with equal-width bins (see module docstring)."""
    bins = reliability_bins(y_true, probs, n_bins)
    n = len(y_true)
    return float(
        sum(b["count"] / n * abs(b["accuracy"] - b["confidence"]) for b in bins if b["count"])
    )


def disclosure_to_harassing_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float | None:
    """Share of true disclosures whose predicted label is harassing — the error the product must not make."""
    disclosures = y_true == DISCLOSURE
    if not disclosures.any():
        return None
    return float((y_pred[disclosures] == HARASSING).mean())


def _one_vs_rest_auc(y_true: np.ndarray, probs: np.ndarray, label: int) -> tuple[float | None, float | None]:
    positive = y_true == label
    if positive.all() or not positive.any():
        return None, None
    return (
        float(roc_auc_score(positive, probs[:, label])),
        float(average_precision_score(positive, probs[:, label])),
    )


def classification_metrics(y_true: np.ndarray, probs: np.ndarray, n_bins: int = DEFAULT_ECE_BINS) -> dict:
    """Per-label precision/recall/F1/ROC-AUC/PR-AUC, macro-F1, accuracy, confusion matrix and ECE.

    Predictions are the argmax label. Macro-F1 averages over the labels that occur in `y_true` or in the
    predictions (scikit-learn's default), so a slice without, say, any harassing post is not scored 0 on it.
    PR-AUC is average precision (the step-wise area, no interpolation).
    """
    y_true = np.asarray(y_true, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float64)
    _check(y_true, probs)
    y_pred = probs.argmax(axis=1)
    all_ids = list(range(len(LABELS)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=all_ids, zero_division=0
    )
    present = sorted(set(y_true.tolist()) | set(y_pred.tolist()))
    per_label = {}
    for i, name in enumerate(LABELS):
        roc_auc, pr_auc = _one_vs_rest_auc(y_true, probs, i)
        per_label[name] = {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
            "roc_auc": roc_auc,
            "pr_auc": pr_auc,
        }
    return {
        "n": int(len(y_true)),
        "accuracy": float((y_pred == y_true).mean()),
        "macro_f1": float(np.mean([f1[i] for i in present])),
        "per_label": per_label,
        "labels": list(LABELS),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=all_ids).tolist(),
        "ece": expected_calibration_error(y_true, probs, n_bins),
        "disclosure_to_harassing_rate": disclosure_to_harassing_rate(y_true, y_pred),
    }


def binary_metrics(is_positive: np.ndarray, score: np.ndarray, threshold: float) -> dict:
    """Precision/recall/F1 of `score ≥ threshold` against a boolean truth, plus threshold-free PR-AUC."""
    is_positive = np.asarray(is_positive, dtype=bool)
    flagged = np.asarray(score) >= threshold
    tp = int((flagged & is_positive).sum())
    precision = tp / int(flagged.sum()) if flagged.any() else 0.0
    recall = tp / int(is_positive.sum()) if is_positive.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    pr_auc = (
        float(average_precision_score(is_positive, score)) if is_positive.any() and not is_positive.all() else None
    )
    return {
        "threshold": float(threshold),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "flagged_share": float(flagged.mean()) if len(flagged) else 0.0,
        "pr_auc": pr_auc,
    }


def best_f1_threshold(is_positive: np.ndarray, score: np.ndarray) -> float:
    """The score cut-off (one of the observed scores) that maximises F1 of `score ≥ cut-off`."""
    is_positive = np.asarray(is_positive, dtype=bool)
    if not is_positive.any():
        raise ValueError("cannot pick an F1-optimal threshold without any positive example")
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
    sorted_score = np.asarray(score, dtype=np.float64)[order]
    tp = np.cumsum(is_positive[order])
    flagged = np.arange(1, len(order) + 1)
    last_of_each = np.r_[np.nonzero(np.diff(sorted_score))[0], len(order) - 1]
    f1 = 2 * tp[last_of_each] / (flagged[last_of_each] + is_positive.sum())
    return float(sorted_score[last_of_each][int(np.argmax(f1))])
