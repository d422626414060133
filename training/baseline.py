"""The baseline every run is compared with: TF-IDF word + character n-grams → logistic regression.

A scikit-learn estimator (`fit`, `predict`, `predict_proba`); `predict_proba` columns follow withyou.labels.LABELS
even when a label is absent from the training data. Inputs are posts as `Record`s, `Item`s, dicts with `text`
and `parent_text`, or plain strings (no parent). Texts are normalised as the transformer's are. The parent post gets its own small word vocabulary, so the
baseline can use context too ("Sure you were." under a disclosure vs under a sports post), but no more cleverly
than bag-of-words allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer

from withyou.encoding import normalize_text
from withyou.labels import LABEL_TO_ID, LABELS


def _field(item: Any, name: str) -> str:
    if isinstance(item, str):
        return item if name == "text" else ""
    value = item.get(name) if isinstance(item, Mapping) else getattr(item, name, None)
    return value or ""


def reply_texts(items: Sequence[Any]) -> list[str]:
    """Reply texts, normalised like the transformer's input (withyou.encoding.normalize_text)."""
    return [normalize_text(text) if (text := _field(item, "text")) else "" for item in items]


def parent_texts(items: Sequence[Any]) -> list[str]:
    return [normalize_text(text) if (text := _field(item, "parent_text")) else "" for item in items]


def build_features(max_features: int, min_df: int, with_parent: bool) -> FeatureUnion:
    words = TfidfVectorizer(ngram_range=(1, 2), min_df=min_df, max_features=max_features, sublinear_tf=True)
    # char_wb n-grams read through obfuscation ("l1ar", "s!ut") and typos that word n-grams miss.
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), min_df=min_df, max_features=max_features, sublinear_tf=True
    )
    parts = [
        ("reply_words", Pipeline([("select", FunctionTransformer(reply_texts)), ("tfidf", words)])),
        ("reply_chars", Pipeline([("select", FunctionTransformer(reply_texts)), ("tfidf", chars)])),
    ]
    if with_parent:
        parent_words = TfidfVectorizer(ngram_range=(1, 2), max_features=max_features // 4, sublinear_tf=True)
        parts.append(("parent_words", Pipeline([("select", FunctionTransformer(parent_texts)), ("tfidf", parent_words)])))
    return FeatureUnion(parts)


class BaselineClassifier(ClassifierMixin, BaseEstimator):
    """TF-IDF + balanced logistic regression over posts; `classes_` is LABELS."""

    def __init__(
        self, max_features: int = 200_000, min_df: int = 2, C: float = 4.0, max_iter: int = 2000, random_state: int = 13
    ):
        self.max_features = max_features
        self.min_df = min_df
        self.C = C
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X: Sequence[Any], y: Sequence[str]) -> "BaselineClassifier":
        unknown = sorted(set(y) - set(LABELS))
        if unknown:
            raise ValueError(f"unknown labels {unknown}; expected {list(LABELS)}")
        X = list(X)
        with_parent = any(parent_texts(X))
        self.pipeline_ = Pipeline(
            [
                ("features", build_features(self.max_features, self.min_df, with_parent)),
                (
                    "classifier",
                    LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight="balanced", random_state=self.random_state),
                ),
            ]
        )
        self.pipeline_.fit(X, np.array([LABEL_TO_ID[label] for label in y]))
        self.classes_ = np.array(LABELS)
        return self

    def predict_proba(self, X: Sequence[Any]) -> np.ndarray:
        """Probabilities [n, 4] in LABELS order (zero for a label the training data lacked)."""
        seen = self.pipeline_.predict_proba(list(X))
        proba = np.zeros((seen.shape[0], len(LABELS)))
        proba[:, self.pipeline_.classes_] = seen
        return proba

    def predict(self, X: Sequence[Any]) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]
