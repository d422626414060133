"""The report's figures, each returned as a base64 PNG string so the HTML file embeds them (no side files).

matplotlib runs on the Agg backend (no display, safe in CI and on servers); every figure is closed after saving.
"""

from __future__ import annotations

import base64
import io

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import precision_recall_curve  # noqa: E402

from withyou.labels import LABELS  # noqa: E402


def to_base64_png(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def confusion_matrix_plot(matrix: list[list[int]]) -> str:
    """Counts with row-normalised shading: each row shows where one true label's posts went."""
    counts = np.asarray(matrix, dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(LABELS)):
        for j in range(len(LABELS)):
            ax.text(j, i, f"{int(counts[i, j])}\n{shares[i, j]:.0%}", ha="center", va="center",
                    color="white" if shares[i, j] > 0.5 else "black", fontsize=9)
    ax.set_xticks(range(len(LABELS)), LABELS, rotation=20)
    ax.set_yticks(range(len(LABELS)), LABELS)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("Confusion matrix (test)")
    fig.colorbar(image, ax=ax, fraction=0.046, label="share of true label")
    return to_base64_png(fig)


def pr_curves_plot(y_true: np.ndarray, probs: np.ndarray) -> str:
    """One-vs-rest precision–recall curve per label."""
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    for i, label in enumerate(LABELS):
        positive = y_true == i
        if not positive.any() or positive.all():
            continue
        precision, recall, _ = precision_recall_curve(positive, probs[:, i])
        ax.step(recall, precision, where="post", label=label)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_title("Precision–recall per label (test, one-vs-rest)")
    ax.legend(loc="lower left")
    ax.grid(alpha=0.3)
    return to_base64_png(fig)


def reliability_plot(before: list[dict], after: list[dict], ece_before: float, ece_after: float) -> str:
    """Accuracy vs confidence per bin, before and after temperature scaling; the diagonal is perfect calibration."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, bins, title in ((axes[0], before, f"before (ECE {ece_before:.3f})"),
                            (axes[1], after, f"after temperature scaling (ECE {ece_after:.3f})")):
        filled = [b for b in bins if b["count"]]
        centers = [(b["lower"] + b["upper"]) / 2 for b in filled]
        width = bins[0]["upper"] - bins[0]["lower"]
        ax.bar(centers, [b["accuracy"] for b in filled], width=width * 0.9, alpha=0.7, label="accuracy")
        ax.plot([b["confidence"] for b in filled], [b["accuracy"] for b in filled], "o", color="C1",
                label="mean confidence")
        ax.plot([0, 1], [0, 1], "--", color="grey")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (top-label probability)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("accuracy")
    axes[0].legend(loc="upper left")
    fig.suptitle("Reliability diagram (test)")
    return to_base64_png(fig)


def harassing_score_plot(y_true: np.ndarray, p_harassing: np.ndarray, review: float, hide: float) -> str:
    """Where each true label's posts fall on calibrated P(harassing), with the action thresholds drawn in."""
    fig, ax = plt.subplots(figsize=(7, 3.8))
    bins = np.linspace(0, 1, 41)
    for i, label in enumerate(LABELS):
        scores = p_harassing[y_true == i]
        if len(scores):
            ax.hist(scores, bins=bins, histtype="step", linewidth=1.6, label=f"{label} (n={len(scores)})",
                    weights=np.full(len(scores), 1 / len(scores)))
    ax.axvline(review, color="orange", linestyle="--", label=f"review ≥ {review:.3f}")
    ax.axvline(hide, color="red", linestyle="--", label=f"hide ≥ {hide:.3f}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("calibrated P(harassing)")
    ax.set_ylabel("share of the label's posts")
    ax.set_title("P(harassing) by true label (test)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return to_base64_png(fig)


def functionality_plot(per_functionality: dict[str, dict]) -> str:
    """Pass rate per functionality with context, and without the parent post for cases that have one."""
    names = sorted(per_functionality)
    with_context = [per_functionality[n]["pass_rate"] for n in names]
    without = [per_functionality[n]["pass_rate_without_context"] for n in names]
    y = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(8, 0.38 * len(names) + 1.4))
    ax.barh(y - 0.2, with_context, height=0.4, label="graded (with its parent, if any)")
    ax.barh(y + 0.2, [w if w is not None else 0 for w in without], height=0.4,
            label="parent removed (cases with a parent)", alpha=0.7)
    for row, value in zip(y, without):
        if value is None:
            ax.text(0.01, row + 0.2, "no parent in these cases", va="center", fontsize=7, color="grey")
    ax.set_yticks(y, [f"{n} (n={per_functionality[n]['n']})" for n in names], fontsize=8)
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("pass rate")
    ax.set_title("Functional tests per functionality")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return to_base64_png(fig)


def bias_plot(per_term_by_model: dict[str, dict[str, dict]]) -> str:
    """Per identity term: false-positive rate (non-harassing cases labelled harassing) and BPSN AUC, per model."""
    models = list(per_term_by_model)
    terms = list(next(iter(per_term_by_model.values())))
    y = np.arange(len(terms))
    height = 0.8 / len(models)
    fig, (fpr_ax, auc_ax) = plt.subplots(1, 2, figsize=(11, 0.32 * len(terms) + 1.6), sharey=True)
    for k, model in enumerate(models):
        rows = per_term_by_model[model]
        offset = y - 0.4 + height * (k + 0.5)
        fpr_ax.barh(offset, [rows[t]["fpr"] or 0 for t in terms], height=height, label=model)
        auc_ax.barh(offset, [rows[t]["bpsn_auc"] or 0 for t in terms], height=height, label=model)
    fpr_ax.set_yticks(y, terms, fontsize=8)
    fpr_ax.invert_yaxis()
    fpr_ax.set_xlim(0, 1)
    fpr_ax.set_xlabel("non-harassing cases labelled harassing (lower is better)")
    auc_ax.set_xlim(0, 1)
    auc_ax.set_xlabel("BPSN AUC (higher is better)")
    for ax in (fpr_ax, auc_ax):
        ax.grid(axis="x", alpha=0.3)
    fpr_ax.legend(fontsize=8, loc="lower right")
    fig.suptitle("Identity-term bias suite per term")
    return to_base64_png(fig)
