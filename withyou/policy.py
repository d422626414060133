"""Scores → action. The platform acts on the calibrated probability that a post is harassing.

`hide` when P(harassing) ≥ hide_threshold, `review` when ≥ review_threshold, else `allow`.
A post in a language the model was not trained on (withyou/language.py) is never hidden automatically: the
model's reading of it is a guess, so it goes to a person (`review`) when P(harassing) ≥ review_threshold.
The thresholds are chosen by evaluation on the validation split and stored in the bundle's thresholds.json;
serving may override them by config. A bundle whose labels have no `harassing` (withyou.labels.HARASSING) is
refused when it is loaded: the policy would have nothing to act on, and allowing everything silently is not a
moderation decision anyone asked for.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, ValidationError, model_validator

from withyou.labels import Action


class Thresholds(BaseModel):
    """Contents of a bundle's `thresholds.json`. The defaults (0.5 / 0.9, source "placeholder") are what export
    writes before evaluation has fitted thresholds, and what its int8 rule uses then (training/export.py)."""

    review: float = Field(default=0.5, ge=0.0, le=1.0)
    hide: float = Field(default=0.9, ge=0.0, le=1.0)
    source: str = "placeholder"  # "placeholder" until evaluation fits them, then "validation"

    @model_validator(mode="after")
    def _review_not_above_hide(self) -> "Thresholds":
        if self.review > self.hide:
            raise ValueError(f"review threshold {self.review} is above hide threshold {self.hide}")
        return self


def parse_thresholds(data: Any) -> Thresholds:
    """Strictly read a thresholds.json payload: an object with numeric `review` and `hide` in [0, 1], review ≤ hide
    (equal means no review band, which evaluation writes when the hide threshold already reaches the recall target).
    No defaults fill a missing key and no string is read as a number; raises ValueError saying what is wrong."""
    if not isinstance(data, dict):
        raise ValueError(f"must be a JSON object with numeric 'review' and 'hide', got {type(data).__name__}")
    missing = [key for key in ("review", "hide") if key not in data]
    if missing:
        raise ValueError(f"has no {' and no '.join(repr(k) for k in missing)} threshold (keys found: {sorted(data)})")
    try:
        return Thresholds.model_validate(data, strict=True)
    except ValidationError as exc:
        problems = "; ".join(
            (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "") + e["msg"].removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise ValueError(problems) from None


def decide_action(harassing_score: float, thresholds: Thresholds, supported_language: bool = True) -> Action:
    if harassing_score >= thresholds.hide and supported_language:
        return "hide"
    if harassing_score >= thresholds.review:
        return "review"
    return "allow"
