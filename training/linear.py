"""The bundle's linear stage and the blend: fitted here, written as data (withyou/linear.py reads them).

`add_linear_stage(bundle_dir, ...)` is the step `withyou train` runs after exporting the transformer:

1. fit a TF-IDF word + character n-gram logistic regression (training/baseline.py's features) on the same training
   split as the transformer, with the sample weights TrainConfig.linear_weighting names (class-balanced by default;
   training.pipeline.linear_sample_weights);
2. write it into the bundle as linear.json + linear.npz, and check that the served scores equal scikit-learn's on
   the validation split (`LinearParityError` otherwise);
3. fit the blend on validation: the weight w of the log-linear pool (1 − w)·log p_transformer + w·log p_linear
   that minimises the validation log loss (withyou.linear.pool), over a grid; write blend.json, whose
   `linear_languages` are the bundle's `languages` (the linear stage was fitted on the same rows as the
   transformer: English for the default build, every listed language for the multilingual one);
4. record `stages` in metadata.json and the new files' checksums.

Evaluation then fits the temperature and the action thresholds on the blend (what serving computes), and the
cascade's bar (evaluation/cascade.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from withyou.blend import BLEND_FORMAT, LINEAR_LANGUAGES, log_softmax, pool, reads_linear
from withyou.encoding import NORMALIZATION
from withyou.integrity import read_json, record_checksums
from withyou.linear import LINEAR_FORMAT, LinearStage
from withyou.records import Record

WEIGHT_GRID = tuple(round(w, 2) for w in np.arange(0.0, 1.0001, 0.05))
"""Blend weights tried on validation (0: the transformer alone, 1: the linear stage alone)."""
PARITY_MAX_ABS_DIFF = 1e-6
"""Served vs scikit-learn probabilities on the validation split."""


class LinearParityError(RuntimeError):
    """The linear stage as served does not reproduce scikit-learn's probabilities."""


def fit_linear(records: Sequence[Record], sample_weight: np.ndarray, *, max_features: int, min_df: int, C: float,
               max_iter: int = 2000, random_state: int = 13):
    """The scikit-learn pipeline (FeatureUnion of TF-IDF blocks → LogisticRegression), fitted with `sample_weight`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from training.baseline import build_features, parent_texts

    records = list(records)
    with_parent = any(parent_texts(records))
    pipeline = Pipeline([
        ("features", build_features(max_features, min_df, with_parent)),
        ("classifier", LogisticRegression(C=C, max_iter=max_iter, random_state=random_state)),
    ])
    pipeline.fit(records, np.array([r.label for r in records]), classifier__sample_weight=np.asarray(sample_weight))
    return pipeline


def linear_files(pipeline: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """linear.json's object and linear.npz's arrays for a fitted `fit_linear` pipeline."""
    features, classifier = pipeline.named_steps["features"], pipeline.named_steps["classifier"]
    blocks, arrays = [], {}
    for name, part in features.transformer_list:
        tfidf = part.named_steps["tfidf"]
        unsupported = {key: getattr(tfidf, key) for key in ("lowercase", "norm", "use_idf", "strip_accents",
                                                             "token_pattern", "stop_words", "binary")}
        expected = {"lowercase": True, "norm": "l2", "use_idf": True, "strip_accents": None,
                    "token_pattern": r"(?u)\b\w\w+\b", "stop_words": None, "binary": False}
        if unsupported != expected:
            raise ValueError(f"{name}: TF-IDF settings {unsupported} are not the ones withyou/linear.py reproduces")
        vocabulary = sorted(tfidf.vocabulary_, key=tfidf.vocabulary_.get)
        blocks.append({"name": name, "field": "parent_text" if name.startswith("parent") else "text",
                       "analyzer": tfidf.analyzer, "ngram_range": list(tfidf.ngram_range),
                       "sublinear_tf": bool(tfidf.sublinear_tf), "vocabulary": vocabulary})
        arrays[f"idf.{name}"] = tfidf.idf_.astype(np.float64)
    coef, intercept = classifier.coef_, classifier.intercept_
    labels = [str(label) for label in classifier.classes_]
    if len(labels) == 2:  # binary: one decision d, and softmax([0, d]) is the sigmoid scikit-learn uses
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.concatenate([[0.0], intercept])
    arrays["coef"] = np.ascontiguousarray(coef.T, dtype=np.float64)
    arrays["intercept"] = intercept.astype(np.float64)
    spec = {"format": LINEAR_FORMAT, "labels": labels, "text_normalization": NORMALIZATION, "features": blocks}
    return spec, arrays


def write_linear(pipeline: Any, bundle_dir: Path) -> None:
    spec, arrays = linear_files(pipeline)
    (Path(bundle_dir) / "linear.json").write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
    np.savez_compressed(Path(bundle_dir) / "linear.npz", **arrays)


def check_linear_parity(pipeline: Any, bundle_dir: Path, records: Sequence[Record]) -> float:
    """max |served − scikit-learn| over `records`' probabilities; raises LinearParityError over the limit."""
    stage = LinearStage.from_bundle(bundle_dir)
    served = stage.probabilities([r.text for r in records], [r.parent_text for r in records])
    expected = pipeline.predict_proba(list(records))
    diff = float(np.abs(served - expected).max()) if len(records) else 0.0
    if diff > PARITY_MAX_ABS_DIFF:
        raise LinearParityError(f"linear stage parity failed on {len(records)} posts: max |Δp| = {diff:.2e} "
                                f"(allowed ≤ {PARITY_MAX_ABS_DIFF:.0e})")
    return diff


def fit_blend_weight(transformer_logits: np.ndarray, linear_probs: np.ndarray, y: np.ndarray,
                     reads: Sequence[bool] | None = None) -> tuple[float, dict]:
    """The WEIGHT_GRID weight with the lowest validation log loss of the pooled softmax (rows the linear stage does
    not read keep the transformer alone, as served), and the loss per weight."""
    losses = {}
    for weight in WEIGHT_GRID:
        log_p = log_softmax(pool(transformer_logits, linear_probs, weight, reads))
        losses[weight] = float(-log_p[np.arange(len(y)), y].mean())
    best = min(losses, key=losses.get)
    return best, losses


def add_linear_stage(
    bundle_dir: Path, train: Sequence[Record], sample_weight: np.ndarray, validation: Sequence[Record],
    validation_logits: np.ndarray, *, max_features: int, min_df: int, C: float,
) -> dict[str, Any]:
    """Steps 1–4 of the module docstring on an exported bundle; returns what train_report.json records.
    `validation_logits` are the transformer's, in the bundle's label order."""
    bundle_dir = Path(bundle_dir)
    metadata = read_json(bundle_dir / "metadata.json")
    labels = metadata["labels"]
    pipeline = fit_linear(train, sample_weight, max_features=max_features, min_df=min_df, C=C)
    write_linear(pipeline, bundle_dir)
    parity = check_linear_parity(pipeline, bundle_dir, validation)
    stage = LinearStage.from_bundle(bundle_dir)
    linear_probs = stage.probabilities_for(labels, [r.text for r in validation], [r.parent_text for r in validation])
    y = np.array([labels.index(r.label) for r in validation])
    languages = list(metadata.get("languages") or LINEAR_LANGUAGES)
    reads = reads_linear([r.text for r in validation], languages)
    weight, losses = fit_blend_weight(validation_logits, linear_probs, y, reads)
    blend = {"format": BLEND_FORMAT, "method": "log_linear_pool", "linear_weight": weight,
             "linear_languages": languages, "fitted_on": "validation", "n": len(validation),
             "validation_log_loss": {f"{w:g}": loss for w, loss in losses.items()}, "cascade": None}
    (bundle_dir / "blend.json").write_text(json.dumps(blend, indent=2) + "\n", encoding="utf-8")
    metadata["stages"] = ["transformer", "linear"]
    (bundle_dir / "metadata.json").write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    record_checksums(bundle_dir)
    return {"linear_parity_max_abs_diff": parity, "blend_weight": weight,
            "features": {b.name: len(b.vocabulary) for b in stage.blocks}}
