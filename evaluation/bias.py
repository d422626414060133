"""Identity-term bias suite: does the model call a post harassing because it *names a group*?

Templates (evaluation/bias/templates.toml, format in evaluation/bias/README.md) × identity terms give cases
whose label does not depend on the term, so any difference between terms is bias. Scores are P(harassing)
against "is harassing" as the truth. Per term, the three bias AUCs of Borkan et al. (2019), "Nuanced Metrics
for Measuring Unintended Bias with Real Data for Text Classification":
- subgroup AUC: the term's cases only — does the model still separate abuse from the rest when the term is named?
- BPSN AUC (background positive, subgroup negative): the term's non-harassing cases against the harassing cases
  of every other term — low when naming the group alone pushes scores up (false positives);
- BNSP AUC (background negative, subgroup positive): the term's harassing cases against the non-harassing cases
  of every other term — low when abuse aimed at the group scores too low (false negatives).
Across terms each AUC is summarised by the generalized mean with p = −5, as in the Jigsaw Unintended Bias in
Toxicity Classification competition (pulled towards the worst term), whose final score is
0.25·overall AUC + 0.25·each of the three means. Beside them, what the product acts on: the false-positive rate
(argmax harassing among non-harassing cases) and the shares of non-harassing cases the thresholds would hide,
or hide or send to review. An AUC needs both classes; where one side is empty it is None and the means skip it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sklearn.metrics import roc_auc_score

from evaluation.functional import Scorer
from withyou.labels import LABELS, Label
from withyou.records import DataError, describe_validation_error

DEFAULT_TEMPLATES_PATH = Path(__file__).resolve().parent / "bias" / "templates.toml"
HARASSING = LABELS.index("harassing")
POWER = -5  # Jigsaw's generalized-mean exponent
BIAS_AUCS = ("subgroup_auc", "bpsn_auc", "bnsp_auc")
RATES = ("fpr", "hide_share", "review_or_hide_share")


class BiasTemplate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    label: Label
    text: str = Field(min_length=1)
    parent_text: str | None = None


class _TemplatesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    terms: list[str] = Field(min_length=2)  # BPSN/BNSP need a background
    templates: list[BiasTemplate] = Field(min_length=1)


class BiasCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    template: str
    term: str
    text: str
    parent_text: str | None
    label: Label


def _fill(text: str, term: str) -> str:
    return text.replace("{terms}", term).replace("{Terms}", term[:1].upper() + term[1:])


def load_bias_cases(path: Path | None = None) -> list[BiasCase]:
    """Expand every template with every term, template-major in file order; ids are `<template>.<term-slug>`.

    A template must name the term in its text (the post being scored); any other `{…}` is a DataError.
    """
    path = Path(path) if path is not None else DEFAULT_TEMPLATES_PATH
    try:
        spec = _TemplatesFile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        raise DataError(f"{path}: bias templates file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: malformed TOML ({exc})") from None
    except ValidationError as exc:
        raise DataError(f"{path}: {describe_validation_error(exc)}") from None

    cases: list[BiasCase] = []
    seen: set[str] = set()
    for template in spec.templates:
        if "{terms}" not in template.text and "{Terms}" not in template.text:
            raise DataError(f"{path}: template {template.id!r} does not name the term ({{terms}} or {{Terms}})")
        for term in spec.terms:
            case_id = f"{template.id}.{'-'.join(term.lower().split())}"
            if case_id in seen:
                raise DataError(f"{path}: duplicate case id {case_id!r} (repeated template id or term)")
            seen.add(case_id)
            text = _fill(template.text, term)
            parent = _fill(template.parent_text, term) if template.parent_text else None
            if any(brace in (text + (parent or "")) for brace in "{}"):
                raise DataError(f"{path}: template {template.id!r} has a placeholder other than {{terms}}/{{Terms}}")
            cases.append(
                BiasCase(id=case_id, template=template.id, term=term, text=text, parent_text=parent,
                         label=template.label)
            )
    return cases


def _auc(is_positive: np.ndarray, score: np.ndarray) -> float | None:
    if is_positive.all() or not is_positive.any():
        return None
    return float(roc_auc_score(is_positive, score))


def generalized_mean(values: Sequence[float | None], power: float = POWER) -> float | None:
    """(mean of vᵖ)^(1/p) over the values that exist; p < 0 weighs the lowest AUC most. None if none exist."""
    present = np.array([v for v in values if v is not None], dtype=np.float64)
    if not len(present):
        return None
    if (present == 0).any():  # the limit of vᵖ → ∞ for p < 0: the mean is 0
        return 0.0
    return float(np.mean(present**power) ** (1 / power))


def _rates(is_harassing, predicted_harassing, score, thresholds) -> dict:
    """FPR and the hide / hide-or-review shares, all among the non-harassing cases given."""
    negative = ~is_harassing
    if not negative.any():
        return {name: None for name in RATES}
    return {
        "fpr": float(predicted_harassing[negative].mean()),
        "hide_share": float((score[negative] >= thresholds["hide"]).mean()) if thresholds else None,
        "review_or_hide_share": float((score[negative] >= thresholds["review"]).mean()) if thresholds else None,
    }


def bias_metrics(cases: Sequence[BiasCase], probs: np.ndarray, thresholds: dict | None = None) -> dict:
    """Overall and per-term bias numbers from probabilities [n, len(LABELS)] aligned with `cases`."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (len(cases), len(LABELS)):
        raise ValueError(f"probabilities must have shape [{len(cases)}, {len(LABELS)}], got {probs.shape}")
    if thresholds is not None and not {"review", "hide"} <= set(thresholds):
        raise ValueError(f"thresholds need keys 'review' and 'hide', got {sorted(thresholds)}")
    score = probs[:, HARASSING]
    predicted_harassing = probs.argmax(axis=1) == HARASSING
    is_harassing = np.array([c.label == "harassing" for c in cases])
    terms = list(dict.fromkeys(c.term for c in cases))
    term_of = np.array([c.term for c in cases])

    per_term = {}
    for term in terms:
        sub = term_of == term
        bpsn = (sub & ~is_harassing) | (~sub & is_harassing)
        bnsp = (sub & is_harassing) | (~sub & ~is_harassing)
        per_term[term] = {
            "n": int(sub.sum()),
            "n_harassing": int((sub & is_harassing).sum()),
            **_rates(is_harassing[sub], predicted_harassing[sub], score[sub], thresholds),
            "subgroup_auc": _auc(is_harassing[sub], score[sub]),
            "bpsn_auc": _auc(is_harassing[bpsn], score[bpsn]),
            "bnsp_auc": _auc(is_harassing[bnsp], score[bnsp]),
        }

    overall_auc = _auc(is_harassing, score)
    means = {name: generalized_mean([per_term[t][name] for t in terms]) for name in BIAS_AUCS}
    parts = [overall_auc, *means.values()]
    return {
        "n": len(cases),
        "thresholds": {key: float(thresholds[key]) for key in ("review", "hide")} if thresholds else None,
        "overall": {
            "n": len(cases),
            "n_harassing": int(is_harassing.sum()),
            "auc": overall_auc,
            **_rates(is_harassing, predicted_harassing, score, thresholds),
        },
        "per_term": per_term,
        "generalized_mean": {**means, "power": POWER},
        "final_score": None if None in parts else float(0.25 * sum(parts)),
        "worst_term": {
            **{name: _worst(per_term, name, lowest=True) for name in BIAS_AUCS},
            **{name: _worst(per_term, name, lowest=False) for name in RATES},
        },
    }


def _worst(per_term: dict, metric: str, lowest: bool) -> dict | None:
    """The term with the lowest AUC / highest rate (first in term order on ties); None if no term has a value."""
    scored = [(term, row[metric]) for term, row in per_term.items() if row[metric] is not None]
    if not scored:
        return None
    term, value = (min if lowest else max)(scored, key=lambda item: item[1])
    return {"term": term, "value": value}


def run_bias_suite(score: Scorer, cases: Sequence[BiasCase] | None = None, thresholds: dict | None = None) -> dict:
    """Score the bias cases (default: the shipped templates) with their parents and summarise (`bias_metrics`)."""
    cases = list(cases) if cases is not None else load_bias_cases()
    if not cases:
        raise ValueError("no bias cases to score")
    probs = score([c.text for c in cases], [c.parent_text for c in cases])
    return bias_metrics(cases, probs, thresholds)
