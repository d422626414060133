"""How a bundle with a linear stage answers: the blend of its two models, and the cascade in front of it.

blend.json (written by training/linear.py, `cascade` by evaluation):

    {"format": BLEND_FORMAT, "method": "log_linear_pool", "linear_weight": w in [0, 1],
     "linear_languages": ["en"],
     "cascade": null or {"linear_allow_below": bar, "linear_sure_above": q, ...how it was fitted}}

- **Blend.** Scores are the log-linear pool (1 − w)·log p_transformer + w·log p_linear (`pool`); the bundle's
  temperature and thresholds are fitted on it, so `softmax(pool / T)` is what is served. The linear stage reads the
  languages it was fitted on (`linear_languages`: the bundle's training languages — English for the default model),
  so a post confidently in another language is scored by the transformer alone (log p_transformer), whatever the
  blend (`reads_linear`).
- **Cascade.** The linear stage costs a fraction of a millisecond; the transformer several. A post the linear stage
  reads and gives P(harassing) below `linear_allow_below`, and its top label a probability above
  `linear_sure_above`, is answered by it alone — label and scores from the linear stage, action allow — and never
  reaches the transformer. Both bars are fitted on validation (evaluation/cascade.py): the first so that the
  actions differ from the full blend's on at most 0.5 % of posts and on no disclosure the blend hides (it is never
  above the review threshold, so the linear stage alone never reviews or hides anything); the second so that the
  labels differ from the blend's on at most 0.5 % of posts — the cascade saves compute, it does not give a weaker
  answer. A bundle whose cascade has no `linear_sure_above` (written before it existed) reads it as 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from withyou.integrity import BundleError, read_json
from withyou.language import detect, is_supported

BLEND_FORMAT = "withyou-blend-v1"
LINEAR_LANGUAGES = ("en",)
"""What the linear stage reads when the bundle lists no languages (training/linear.py writes the bundle's own)."""
PROBABILITY_FLOOR = 1e-6
"""log p_linear is taken of max(p, this): a label the linear stage gives 0 cannot veto the transformer."""
STAGES = ("transformer", "linear", "blend")
"""Which stage decided a post (Prediction.stage): the transformer alone (a bundle without linear stage, or a post
the linear stage does not read), the linear stage alone (the cascade), or the blend of both."""


def reads_linear(texts: Sequence[str], languages: Sequence[str], detections: Sequence | None = None) -> list[bool]:
    """Which posts the linear stage reads: all but those confidently in a language outside `languages`
    (withyou.language.is_supported); `detections` are the texts' withyou.language.detect results when known."""
    detections = detections or [detect(text) for text in texts]
    return [is_supported(d, text, list(languages)) for d, text in zip(detections, texts)]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def pool(transformer_logits: np.ndarray, linear_probs: np.ndarray, weight: float,
         reads_linear: Sequence[bool] | np.ndarray | None = None) -> np.ndarray:
    """Blended scores [n, labels]: (1 − w)·log_softmax(logits) + w·log p_linear for the rows the linear stage reads,
    log_softmax(logits) for the others."""
    transformer = log_softmax(transformer_logits)
    pooled = (1.0 - weight) * transformer + weight * np.log(np.maximum(linear_probs, PROBABILITY_FLOOR))
    if reads_linear is None:
        return pooled
    return np.where(np.asarray(reads_linear, dtype=bool)[:, None], pooled, transformer)


@dataclass(frozen=True)
class Blend:
    weight: float
    languages: tuple[str, ...]
    cascade_below: float | None
    """P_linear(harassing) under which the linear stage answers alone; None: no cascade."""
    cascade_sure_above: float = 0.0
    """…and only when its top label's probability is above this."""


def read_blend(bundle_dir: Path) -> Blend:
    path = Path(bundle_dir) / "blend.json"
    blend = read_json(path)
    if not isinstance(blend, dict) or blend.get("format") != BLEND_FORMAT:
        raise BundleError(f"{path}: format must be {BLEND_FORMAT!r}")
    weight = blend.get("linear_weight")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
        raise BundleError(f"{path}: linear_weight must be a number in [0, 1], got {weight!r}")
    languages = blend.get("linear_languages")
    if not isinstance(languages, list) or not all(isinstance(code, str) for code in languages):
        raise BundleError(f"{path}: linear_languages must be a list of language codes")
    cascade = blend.get("cascade")
    below, sure = None, 0.0
    if cascade is not None:
        if not isinstance(cascade, dict):
            raise BundleError(f"{path}: cascade must be null or an object")
        below, sure = cascade.get("linear_allow_below"), cascade.get("linear_sure_above", 0.0)
        for key, value in (("linear_allow_below", below), ("linear_sure_above", sure)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise BundleError(f"{path}: cascade.{key} must be a number in [0, 1], got {value!r}")
    return Blend(float(weight), tuple(languages), None if below is None else float(below), float(sure))
