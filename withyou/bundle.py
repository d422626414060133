"""The model bundle: the only contract between training and serving/evaluation.

A bundle is a directory:

    model.onnx          dynamic-int8 ONNX classifier; inputs input_ids, attention_mask[, token_type_ids]; output logits [n, 4]
    model.fp32.onnx     optional full-precision export (parity checks, debugging)
    tokenizer.json      Hugging Face `tokenizers` file; encoding rules in withyou/encoding.py
    labels.json         label names in logit order, e.g. ["disclosure", "supportive", "harassing", "neutral"]
    thresholds.json     action thresholds on P(harassing) (withyou/policy.py: Thresholds)
    calibration.json    {"temperature": T} — logits are divided by T before the softmax
    metadata.json       model_version, base_model, data_hash, max_length, text_normalization, languages (ISO 639-1
                        codes the model was trained on; absent = ["en"]), metrics, created_at, library_versions

Reading it needs onnxruntime, tokenizers and numpy only — never torch (tests/withyou/test_bundle.py proves it).
`Classifier.from_bundle(path).predict(items)` is the one entry point used by evaluation, serving and batch scoring.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from withyou.encoding import (
    DEFAULT_MAX_LENGTH,
    NORMALIZATION,
    encode_posts,
    length_batches,
    load_tokenizer,
    pad_encodings,
    pad_id_of,
)
from withyou.labels import LABELS, Action
from withyou.language import UNSUPPORTED_REASON, bundle_languages, is_supported
from withyou.language import detect as detect_language
from withyou.policy import Thresholds, decide_action

BUNDLE_FILES = ("model.onnx", "tokenizer.json", "labels.json", "thresholds.json", "calibration.json", "metadata.json")


class BundleError(ValueError):
    """A bundle directory is missing a file or holds an inconsistent one."""


@dataclass(frozen=True)
class Item:
    """One post to classify; `parent_text` is the post it replies to, if any."""

    text: str
    parent_text: str | None = None
    id: str | None = None


@dataclass(frozen=True)
class Prediction:
    id: str | None
    label: str
    scores: dict[str, float]
    action: Action
    lang: str | None = None
    lang_confidence: float = 0.0
    reason: str | None = None
    """Why the action is not the plain threshold one, e.g. withyou.language.UNSUPPORTED_REASON."""


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits.astype(np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"bundle file missing: {path}") from None
    except json.JSONDecodeError as exc:
        raise BundleError(f"bundle file {path} is not valid JSON: {exc}") from None


def check_bundle_dir(path: Path) -> None:
    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"no bundle directory at {path}")
    missing = [name for name in BUNDLE_FILES if not (path / name).is_file()]
    if missing:
        raise BundleError(f"bundle {path} is missing {', '.join(missing)}")


class Classifier:
    """Scores posts with a bundle's ONNX model. Thread-safe for concurrent `predict` calls (onnxruntime sessions are)."""

    def __init__(
        self,
        path: Path,
        *,
        model_file: str = "model.onnx",
        intra_op_threads: int | None = None,
        batch_size: int = 64,
        max_batch_tokens: int = 1024,
    ) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        check_bundle_dir(self.path)
        self.labels: list[str] = read_json(self.path / "labels.json")
        if sorted(self.labels) != sorted(LABELS):
            raise BundleError(f"{self.path / 'labels.json'} lists {self.labels}, expected the labels {list(LABELS)}")
        self.metadata: dict[str, Any] = read_json(self.path / "metadata.json")
        self.thresholds = Thresholds.model_validate(read_json(self.path / "thresholds.json"))
        self.temperature = float(read_json(self.path / "calibration.json").get("temperature", 1.0))
        if not self.temperature > 0:
            raise BundleError(f"calibration temperature must be > 0, got {self.temperature}")
        self.max_length = int(self.metadata.get("max_length", DEFAULT_MAX_LENGTH))
        normalization = self.metadata.get("text_normalization")
        if normalization not in (None, NORMALIZATION):
            raise BundleError(
                f"{self.path / 'metadata.json'}: text_normalization {normalization!r} is unknown to this version "
                f"(it knows {NORMALIZATION!r}); upgrade withyou to serve this bundle"
            )
        self.normalize = normalization == NORMALIZATION
        self.tokenizer = load_tokenizer(self.path / "tokenizer.json", self.max_length)
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.pad_id = pad_id_of(self.tokenizer)

        options = ort.SessionOptions()
        threads = intra_op_threads or int(os.environ.get("WITHYOU_ORT_THREADS", "0")) or (os.cpu_count() or 1)
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        model_path = self.path / model_file
        if not model_path.is_file():
            raise BundleError(f"bundle {self.path} has no {model_file}")
        self.session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.harassing_index = self.labels.index("harassing")
        self.languages = bundle_languages(self.metadata)

    @classmethod
    def from_bundle(cls, path: Path | str, **kwargs: Any) -> "Classifier":
        return cls(Path(path), **kwargs)

    @property
    def model_version(self) -> str:
        return str(self.metadata.get("model_version", "unknown"))

    def logits(self, texts: Sequence[str], parent_texts: Sequence[str | None] | None = None) -> np.ndarray:
        """Raw logits [n, len(labels)] in input order.

        Posts are run in batches of similar length (withyou.encoding.length_batches): at most `batch_size` posts
        and `max_batch_tokens` padded tokens per run, which bounds padding waste and activation memory. Small
        runs are also faster per post on CPU (activations stay in cache): 32 validation posts on 2 cores took
        ~350 ms at ≤ 1,024 tokens per run (64 to 1,024 alike) vs ~700 ms at 4,096.
        """
        encodings = encode_posts(self.tokenizer, texts, parent_texts, self.normalize)
        out = np.zeros((len(encodings), len(self.labels)), dtype=np.float32)
        for batch in length_batches([len(e.ids) for e in encodings], self.batch_size, self.max_batch_tokens):
            feeds = pad_encodings([encodings[i] for i in batch], self.pad_id).as_feeds(self.input_names)
            (out[batch],) = self.session.run(["logits"], feeds)
        return out

    def predict_proba(
        self, texts: Sequence[str], parent_texts: Sequence[str | None] | None = None, *, calibrated: bool = True
    ) -> np.ndarray:
        """Probabilities [n, len(labels)] in `self.labels` order; temperature-scaled when `calibrated`."""
        return softmax(self.logits(texts, parent_texts), self.temperature if calibrated else 1.0)

    def predict(self, items: Sequence[Item | dict], thresholds: Thresholds | None = None) -> list[Prediction]:
        items = [item if isinstance(item, Item) else Item(**item) for item in items]
        if not items:
            return []
        probs = self.predict_proba([i.text for i in items], [i.parent_text for i in items])
        thresholds = thresholds or self.thresholds
        predictions = []
        for item, row in zip(items, probs):
            scores = {label: float(p) for label, p in zip(self.labels, row)}
            detection = detect_language(item.text)
            supported = is_supported(detection, item.text, self.languages)
            predictions.append(
                Prediction(
                    id=item.id,
                    label=self.labels[int(row.argmax())],
                    scores=scores,
                    action=decide_action(float(row[self.harassing_index]), thresholds, supported),
                    lang=detection.lang,
                    lang_confidence=detection.confidence,
                    reason=None if supported else UNSUPPORTED_REASON,
                )
            )
        return predictions
