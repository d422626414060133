"""Functional test suite: hand-written cases, each testing one behaviour (in the spirit of HateCheck).

Cases live in evaluation/functional/cases.jsonl (format: evaluation/functional/README.md). Each case is scored
twice: with its parent post (the real reading, which decides pass/fail) and with the parent removed, which shows
what context adds. Without its parent some cases *should* change label ("Sure you were." is harassing only under
a disclosure), so the without-context pass rate is not a second grade: it is the share of cases the model would
still get right if it ignored the thread, and the gap between the two rates is the value of context.

Each case has a language (`lang`, a BCP 47 tag, default "en"). The graded `overall` rate counts the cases in the
model's languages only (a bundle's metadata `languages`, English by default); `per_language` scores every
language on its own, so the French, Spanish, Hindi and Japanese cases measure what an English model does with
them without moving the grade (README "Languages").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from evaluation.metrics import label_ids
from withyou.labels import LABELS, Label
from withyou.language import DEFAULT_LANGUAGES
from withyou.records import DataError, describe_validation_error

DEFAULT_CASES_PATH = Path(__file__).resolve().parent / "functional" / "cases.jsonl"

# texts, parent_texts → probabilities [n, len(LABELS)] in LABELS order
Scorer = Callable[[Sequence[str], Sequence[str | None]], np.ndarray]


class FunctionalCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1)
    functionality: str = Field(min_length=1)
    text: str = Field(min_length=1)
    parent_text: str | None
    label: Label
    lang: str = Field("en", pattern=r"^[a-z]{2}(-[A-Za-z]{4})?$")

    @field_validator("parent_text")
    @classmethod
    def _blank_parent_is_none(cls, value: str | None) -> str | None:
        return value if value is not None and value.strip() else None


def load_cases(path: Path) -> list[FunctionalCase]:
    """Read and validate a cases file; any bad line or duplicate id is a DataError naming file:line."""
    path = Path(path)
    cases: list[FunctionalCase] = []
    seen: dict[str, int] = {}
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                case = FunctionalCase.model_validate(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})") from None
            except ValidationError as exc:
                raise DataError(f"{path}:{lineno}: {describe_validation_error(exc)}") from None
            if case.id in seen:
                raise DataError(f"{path}:{lineno}: duplicate case id {case.id!r} (first on line {seen[case.id]})")
            seen[case.id] = lineno
            cases.append(case)
    if not cases:
        raise DataError(f"{path}: no functional test cases")
    return cases


def pass_rates(
    cases: Sequence[FunctionalCase],
    predicted_with: np.ndarray,
    predicted_without: np.ndarray,
    languages: Sequence[str] = DEFAULT_LANGUAGES,
) -> dict:
    """Pass rates overall (cases in `languages`), per functionality and per language, from predicted label ids
    with and without the parent post.

    `without_context` rates count only cases that have a parent (for the others both readings are the same);
    `flipped` counts cases whose predicted label changes when the parent is removed.
    """
    gold = label_ids([c.label for c in cases])
    passed = predicted_with == gold
    passed_alone = predicted_without == gold
    has_parent = np.array([c.parent_text is not None for c in cases])

    def summary(mask: np.ndarray) -> dict:
        with_parent = mask & has_parent
        return {
            "n": int(mask.sum()),
            "passed": int(passed[mask].sum()),
            "pass_rate": float(passed[mask].mean()) if mask.any() else None,
            "n_with_parent": int(with_parent.sum()),
            "pass_rate_with_context": float(passed[with_parent].mean()) if with_parent.any() else None,
            "pass_rate_without_context": float(passed_alone[with_parent].mean()) if with_parent.any() else None,
            "flipped": int((predicted_with != predicted_without)[with_parent].sum()),
        }

    functionalities = sorted({c.functionality for c in cases})
    failures = [  # ids, not text: this summary goes into metrics.json
        {
            "id": c.id,
            "functionality": c.functionality,
            "label": c.label,
            "predicted": LABELS[int(predicted_with[i])],
            "predicted_without_context": LABELS[int(predicted_without[i])],
        }
        for i, c in enumerate(cases)
        if not passed[i]
    ]
    in_languages = np.array([c.lang.split("-")[0] in set(languages) for c in cases])
    return {
        "overall": summary(in_languages),
        "languages": list(languages),
        "per_functionality": {
            name: summary(np.array([c.functionality == name for c in cases])) for name in functionalities
        },
        "per_language": {tag: summary(np.array([c.lang == tag for c in cases])) for tag in sorted({c.lang for c in cases})},
        "failures": failures,
    }


def run_functional(
    scorer: Scorer, cases: Sequence[FunctionalCase], languages: Sequence[str] = DEFAULT_LANGUAGES
) -> dict:
    """Score every case with and without its parent and summarise (see `pass_rates`)."""
    texts = [c.text for c in cases]
    predicted_with = scorer(texts, [c.parent_text for c in cases]).argmax(axis=1)
    predicted_without = scorer(texts, [None] * len(cases)).argmax(axis=1)
    return pass_rates(cases, predicted_with, predicted_without, languages)
