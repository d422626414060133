"""The MLflow pyfunc flavour of a bundle: `mlflow.pyfunc.load_model("models:/withyou@champion").predict(df)`.

This file is an MLflow "model from code": MLflow copies it into the model directory and runs it at load time
(`set_model` below), so it imports only the torch-free core (shipped with the model as `code/withyou`) and pandas.
withyou/pyfunc.py writes the model directory; training registers every version with it (training/tracking.py).

predict(df) takes a DataFrame with `text` and, optionally, `parent_text` (null or blank = no parent) and returns
one row per input row, in order: `label`, `score_<label>` for each label in the bundle, `action`, `model_version`,
`lang`, `lang_confidence`, `reason` — `Classifier.predict`, so the same calibration, thresholds, language rule and
policy as the HTTP server.

One Classifier (one onnxruntime session) per process and bundle: Spark's local mode reloads a pyfunc model for
every task, and each reload would otherwise open a fresh session.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import mlflow
import pandas as pd

_CACHE_KEY = "_withyou_pyfunc_classifiers"  # stored on `sys` so that every re-run of this file shares it


def cached_classifier(bundle_dir: str, intra_op_threads: int | None) -> Any:
    """The process's Classifier for `bundle_dir` (MLflow runs this file anew at every load, so no module global)."""
    from withyou.bundle import Classifier

    cache: dict[tuple[str, int | None], Any] = sys.__dict__.setdefault(_CACHE_KEY, {})
    key = (os.path.realpath(bundle_dir), intra_op_threads)
    if key not in cache:
        cache[key] = Classifier.from_bundle(bundle_dir, intra_op_threads=intra_op_threads)
    return cache[key]


class WithYouPyfunc(mlflow.pyfunc.PythonModel):
    """Scores a DataFrame of posts with the bundle in the model's `bundle` artifact."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        threads = (context.model_config or {}).get("intra_op_threads")
        self.classifier = cached_classifier(context.artifacts["bundle"], int(threads) if threads else None)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        if "text" not in model_input.columns:
            raise ValueError(f"the input needs a 'text' column; it has {list(model_input.columns)}")
        from withyou.bundle import Item

        texts = [str(text) for text in model_input["text"]]
        if "parent_text" in model_input.columns:
            parents = [p if isinstance(p, str) and p.strip() else None for p in model_input["parent_text"]]
        else:
            parents = [None] * len(texts)
        classifier = self.classifier
        predictions = classifier.predict([Item(text=t, parent_text=p) for t, p in zip(texts, parents)])
        rows = []
        for prediction in predictions:  # the HTTP answer (Prediction.as_result) with its scores as columns
            answer = prediction.as_result(classifier.model_version)
            del answer["id"]
            label_scores = answer.pop("scores")
            scores = {f"score_{label}": label_scores[label] for label in classifier.labels}
            rows.append({"label": answer.pop("label"), **scores, **answer})
        return pd.DataFrame(rows, index=model_input.index)


mlflow.models.set_model(WithYouPyfunc())
