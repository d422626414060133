"""`withyou evaluate`'s options as one typed config, with every default declared here once.

Light on purpose (no numpy, no sklearn): the CLI reads these defaults for its help text at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ECE_BINS = 15
"""Equal-width bins for expected calibration error."""
DEFAULT_PRECISION_TARGET = 0.95
"""Harassing precision the hide threshold must reach on validation."""
DEFAULT_RECALL_TARGET = 0.90
"""Harassing recall the review threshold must reach on validation."""
DEFAULT_SHORT_WORDS = 6
"""Posts with fewer words form the 'short' slice."""
DEFAULT_TOLERANCE = 0.01
"""Gate slack on every gated number (own test, real-text benchmarks, bias, functional)."""


class EvaluationError(ValueError):
    """The evaluation cannot run on what it was given; the message says what to fix."""


@dataclass
class EvaluationConfig:
    """Every option of `withyou evaluate`; the defaults run on 2 CPU cores."""

    dataset_dir: Path | None = None
    extra: list[Path] = field(default_factory=list)
    out_dir: Path | None = None
    cases_path: Path | None = None
    """Functional cases; default evaluation/functional/cases.jsonl (skipped with a notice if absent)."""
    bias_templates_path: Path | None = None
    """Bias-suite templates; default evaluation/bias/templates.toml."""
    disclosures_path: Path | None = None
    """Canonical disclosures; default evaluation/disclosures/cases.jsonl (skipped with a notice if absent)."""
    baseline_path: Path | None = None
    """TF-IDF baseline; default baseline.joblib beside the bundle directory (skipped with a notice if absent)."""
    precision_target: float = DEFAULT_PRECISION_TARGET
    recall_target: float = DEFAULT_RECALL_TARGET
    ece_bins: int = DEFAULT_ECE_BINS
    short_words: int = DEFAULT_SHORT_WORDS
    batch_size: int = 64
    tolerance: float = DEFAULT_TOLERANCE
    write_bundle: bool = True
    log_mlflow: bool = True
    peers: bool = True
    shown_errors: int = 25
    faithfulness_posts: int = 300
    """Test posts whose explanations are graded (evaluation/faithfulness.py); 0 skips the section."""
    languages: list[str] = field(default_factory=list)
    """Languages graded beside the bundle's own (evaluation/languages.py), e.g. fr for what an English model does
    with French; each gets a table, and with --against its numbers are gated too."""

    def __post_init__(self) -> None:
        for name in ("precision_target", "recall_target"):
            if not 0 < getattr(self, name) <= 1:
                raise EvaluationError(f"{name} must be in (0, 1], got {getattr(self, name)}")
        for name in ("ece_bins", "short_words", "batch_size"):
            if getattr(self, name) < 1:
                raise EvaluationError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.tolerance < 0:
            raise EvaluationError(f"tolerance must be ≥ 0, got {self.tolerance}")

    def as_json(self) -> dict[str, Any]:
        return {k: ([str(p) for p in v] if isinstance(v, list) else str(v) if isinstance(v, Path) else v)
                for k, v in self.__dict__.items()}


