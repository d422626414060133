"""The four labels and the three actions — the product's vocabulary (see datasets/LABELS.md).

`LABELS` is the label set `withyou train` trains by default; a model's own labels, in logit order, are recorded
in its bundle (labels.json, metadata.json `labels`) and are what the bundle reader, serving and the review queue
use — a bundle with other or more labels loads and serves. The policy needs one of them to be `HARASSING`.
"""

from typing import Literal

LABELS: tuple[str, ...] = ("disclosure", "supportive", "harassing", "neutral")
Label = Literal["disclosure", "supportive", "harassing", "neutral"]

HARASSING = "harassing"
"""The label whose probability the allow/review/hide policy acts on (withyou/policy.py)."""

ACTIONS: tuple[str, ...] = ("allow", "review", "hide")
Action = Literal["allow", "review", "hide"]

LABEL_TO_ID: dict[str, int] = {name: i for i, name in enumerate(LABELS)}
