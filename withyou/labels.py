"""The four labels and the three actions — the product's vocabulary (see datasets/LABELS.md)."""

from typing import Literal

LABELS: tuple[str, ...] = ("disclosure", "supportive", "harassing", "neutral")
Label = Literal["disclosure", "supportive", "harassing", "neutral"]

ACTIONS: tuple[str, ...] = ("allow", "review", "hide")
Action = Literal["allow", "review", "hide"]

LABEL_TO_ID: dict[str, int] = {name: i for i, name in enumerate(LABELS)}
