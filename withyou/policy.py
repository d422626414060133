"""Scores → action. The platform acts on the calibrated probability that a post is harassing.

`hide` when P(harassing) ≥ hide_threshold, `review` when ≥ review_threshold, else `allow`.
A post in a language the model was not trained on (withyou/language.py) is never hidden automatically: the
model's reading of it is a guess, so it goes to a person (`review`) when P(harassing) ≥ review_threshold.
The thresholds are chosen by evaluation on the validation split and stored in the bundle's thresholds.json;
serving may override them by config.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from withyou.labels import Action


class Thresholds(BaseModel):
    """Contents of a bundle's `thresholds.json`."""

    review: float = Field(default=0.5, ge=0.0, le=1.0)
    hide: float = Field(default=0.9, ge=0.0, le=1.0)
    source: str = "placeholder"  # "placeholder" until evaluation fits them, then "validation"

    @model_validator(mode="after")
    def _review_not_above_hide(self) -> "Thresholds":
        if self.review > self.hide:
            raise ValueError(f"review threshold {self.review} is above hide threshold {self.hide}")
        return self


def decide_action(harassing_score: float, thresholds: Thresholds, supported_language: bool = True) -> Action:
    if harassing_score >= thresholds.hide and supported_language:
        return "hide"
    if harassing_score >= thresholds.review:
        return "review"
    return "allow"
