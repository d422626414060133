"""Metrics for a training run, the transformer-vs-baseline table, and the confusion-matrix figure.

Report shape (train_report.json → "models"): {model: {split: {"macro_f1", "accuracy", "per_label_f1": {label: f1},
"confusion": [[n]] (rows = true label, columns = predicted, LABELS order), "n"}}}.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

from withyou.labels import LABELS

SplitMetrics = dict[str, Any]


def split_metrics(y_true: Sequence[int], y_pred: Sequence[int]) -> SplitMetrics:
    """Macro-F1, accuracy, per-label F1 and the confusion matrix for integer label ids (LABELS order)."""
    ids = list(range(len(LABELS)))
    if len(y_true) == 0:
        return {"n": 0, "macro_f1": None, "accuracy": None, "per_label_f1": {}, "confusion": []}
    per_label = f1_score(y_true, y_pred, labels=ids, average=None, zero_division=0)
    return {
        "n": int(len(y_true)),
        "macro_f1": float(np.mean(per_label)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "per_label_f1": {label: float(f1) for label, f1 in zip(LABELS, per_label)},
        "confusion": confusion_matrix(y_true, y_pred, labels=ids).tolist(),
    }


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def comparison_rows(models: dict[str, dict[str, SplitMetrics]], splits: Sequence[str] = ("validation", "test")) -> list[list[str]]:
    """Rows metric × (model, split) for a side-by-side table; the first row is the header."""
    names = list(models)
    header = ["metric"] + [f"{name} {split}" for split in splits for name in names]
    rows = [header]
    metric_names = ["macro_f1", "accuracy"] + [f"f1 {label}" for label in LABELS]
    for metric in metric_names:
        row = [metric]
        for split in splits:
            for name in names:
                report = models[name].get(split, {})
                if metric.startswith("f1 "):
                    value = report.get("per_label_f1", {}).get(metric[3:])
                else:
                    value = report.get(metric)
                row.append(_fmt(value))
        rows.append(row)
    return rows


def print_comparison(models: dict[str, dict[str, SplitMetrics]], title: str = "transformer vs baseline") -> None:
    from rich.console import Console
    from rich.table import Table

    rows = comparison_rows(models)
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column, justify="right" if column != "metric" else "left")
    for row in rows[1:]:
        table.add_row(*row)
    Console().print(table)


def plot_confusion_matrices(models: dict[str, dict[str, SplitMetrics]], path: Path, split: str = "test") -> Path:
    """One row-normalised confusion matrix per model for `split`, counts in the cells, saved as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [name for name in models if models[name].get(split, {}).get("confusion")]
    fig, axes = plt.subplots(1, max(len(names), 1), figsize=(5.2 * max(len(names), 1), 4.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        counts = np.array(models[name][split]["confusion"], dtype=float)
        rates = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(rates, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(LABELS)):
            for j in range(len(LABELS)):
                ax.text(j, i, f"{int(counts[i, j])}", ha="center", va="center",
                        color="white" if rates[i, j] > 0.5 else "black", fontsize=9)
        ax.set_xticks(range(len(LABELS)), LABELS, rotation=30, ha="right")
        ax.set_yticks(range(len(LABELS)), LABELS)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{name} — {split} (macro-F1 {_fmt(models[name][split]['macro_f1'])})")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
