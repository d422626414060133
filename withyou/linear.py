"""The linear stage of a bundle: TF-IDF word and character n-grams → logistic regression, stored as data.

Training fits it with scikit-learn (training/linear.py) on the transformer's training split and sample weights;
export writes what scikit-learn learned as plain data, and this module scores with numpy alone, so serving and
`withyou score` never unpickle anything:

    linear.json     {"format": LINEAR_FORMAT, "labels": [...], "text_normalization": the normalisation it was fitted
                    on (withyou.encoding.NORMALIZATION) or null, "features": [one object per TF-IDF block, in column
                    order: name, field ("text" or "parent_text"), analyzer ("word" or "char_wb"), ngram_range,
                    sublinear_tf, vocabulary (terms in column order)]}
    linear.npz      numpy arrays, loaded with allow_pickle=False: `idf.<name>` per block, `coef` [n_features,
                    n_labels] and `intercept` [n_labels]

The analyzers reproduce scikit-learn's TfidfVectorizer (lower-casing, the default token pattern, `char_wb`
padding, sublinear tf, idf, l2 norm per block), and LogisticRegression's multinomial softmax; the parity test
(tests/withyou/test_linear.py) proves the scores equal scikit-learn's. scikit-learn's ONNX converter (skl2onnx)
was not used: it has no `char_wb` analyzer and cannot carry the text normalisation both models read through.

Texts are normalised as they were at fitting (linear.json `text_normalization`, withyou.encoding.normalize_text).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from withyou.encoding import NORMALIZATION, normalize_text

LINEAR_FORMAT = "withyou-linear-v1"
LINEAR_FILES = ("linear.json", "linear.npz")
TOKEN_PATTERN = re.compile(r"(?u)\b\w\w+\b")
"""scikit-learn's default token_pattern: words of two or more word characters."""
_WHITE_SPACES = re.compile(r"\s\s+")
ANALYZERS = ("word", "char_wb")
FIELDS = ("text", "parent_text")


class LinearStageError(ValueError):
    """linear.json / linear.npz are missing, malformed or hold something that is not plain data."""


def word_ngrams(text: str, low: int, high: int) -> list[str]:
    """TfidfVectorizer(analyzer="word") on lower-cased text: tokens, then space-joined n-grams."""
    tokens = TOKEN_PATTERN.findall(text.lower())
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), high + 1):
        grams.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return grams


def char_wb_ngrams(text: str, low: int, high: int) -> list[str]:
    """TfidfVectorizer(analyzer="char_wb"): character n-grams inside each space-padded word."""
    grams = []
    for word in _WHITE_SPACES.sub(" ", text.lower()).split():
        word = f" {word} "
        for n in range(low, high + 1):
            grams.extend(word[i : i + n] for i in range(max(len(word) - n + 1, 1)))
            if len(word) <= n:  # a word shorter than n counts once, as scikit-learn counts it
                break
    return grams


@dataclass(frozen=True)
class Block:
    """One TF-IDF block of the feature vector: which text it reads, how, and its vocabulary and idf."""

    name: str
    field: str
    analyzer: str
    ngram_range: tuple[int, int]
    sublinear_tf: bool
    vocabulary: dict[str, int]
    idf: np.ndarray
    offset: int
    """Column of this block's first feature in the full vector."""

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(columns, values) of one text: tf (1 + log tf when sublinear) × idf, l2-normalised."""
        analyze = word_ngrams if self.analyzer == "word" else char_wb_ngrams
        counts = Counter(i for gram in analyze(text, *self.ngram_range) if (i := self.vocabulary.get(gram)) is not None)
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        columns = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        values = (1.0 + np.log(tf) if self.sublinear_tf else tf) * self.idf[columns]
        norm = np.sqrt((values**2).sum())
        return columns + self.offset, values / norm if norm > 0 else values


class LinearStage:
    """Scores posts with a bundle's linear stage; `probabilities` columns follow `labels`."""

    def __init__(self, blocks: list[Block], coef: np.ndarray, intercept: np.ndarray, labels: list[str],
                 normalize: bool) -> None:
        self.blocks, self.coef, self.intercept, self.labels, self.normalize = blocks, coef, intercept, labels, normalize

    @classmethod
    def from_bundle(cls, bundle_dir: Path) -> "LinearStage":
        bundle_dir = Path(bundle_dir)
        spec = _read_spec(bundle_dir / "linear.json")
        normalize = spec.get("text_normalization") == NORMALIZATION
        arrays = _read_arrays(bundle_dir / "linear.npz")
        blocks, offset = [], 0
        for block in spec["features"]:
            name = block["name"]
            idf = arrays.get(f"idf.{name}")
            if idf is None or idf.shape != (len(block["vocabulary"]),):
                raise LinearStageError(f"{bundle_dir / 'linear.npz'}: idf.{name} must have one value per term of "
                                       f"linear.json's {name} vocabulary ({len(block['vocabulary'])})")
            vocabulary = {term: index for index, term in enumerate(block["vocabulary"])}
            blocks.append(Block(name, block["field"], block["analyzer"], tuple(block["ngram_range"]),
                                bool(block["sublinear_tf"]), vocabulary, idf.astype(np.float64), offset))
            offset += len(vocabulary)
        coef, intercept = arrays.get("coef"), arrays.get("intercept")
        labels = spec["labels"]
        if coef is None or intercept is None or coef.shape != (offset, len(labels)) or intercept.shape != (len(labels),):
            raise LinearStageError(f"{bundle_dir / 'linear.npz'}: coef must be [{offset}, {len(labels)}] and intercept "
                                   f"[{len(labels)}] (features × labels of linear.json)")
        return cls(blocks, coef.astype(np.float64), intercept.astype(np.float64), labels, normalize)

    def decision(self, texts: Sequence[str], parent_texts: Sequence[str | None] | None = None) -> np.ndarray:
        """Logistic-regression scores [n, labels] (scikit-learn's decision_function)."""
        parent_texts = parent_texts if parent_texts is not None else [None] * len(texts)
        out = np.tile(self.intercept, (len(texts), 1))
        for row, (text, parent) in enumerate(zip(texts, parent_texts)):
            fields = {"text": self._prepare(text), "parent_text": self._prepare(parent)}
            for block in self.blocks:
                columns, values = block.features(fields[block.field])
                if len(columns):
                    out[row] += values @ self.coef[columns]
        return out

    def probabilities(self, texts: Sequence[str], parent_texts: Sequence[str | None] | None = None) -> np.ndarray:
        """P(label) [n, labels]: the multinomial softmax of `decision` (LogisticRegression.predict_proba)."""
        scores = self.decision(texts, parent_texts)
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)

    def probabilities_for(self, labels: Sequence[str], texts: Sequence[str],
                          parent_texts: Sequence[str | None] | None = None) -> np.ndarray:
        """`probabilities` with one column per name in `labels` (a bundle's order); 0 for a label this stage lacks."""
        probs = self.probabilities(texts, parent_texts)
        out = np.zeros((len(texts), len(labels)))
        for column, label in enumerate(self.labels):
            if label in labels:
                out[:, list(labels).index(label)] = probs[:, column]
        return out

    def _prepare(self, text: str | None) -> str:
        if not text:
            return ""
        return normalize_text(text) if self.normalize else text


def _read_spec(path: Path) -> dict[str, Any]:
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LinearStageError(f"bundle file missing: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LinearStageError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(spec, dict) or spec.get("format") != LINEAR_FORMAT:
        raise LinearStageError(f"{path}: format must be {LINEAR_FORMAT!r}, got "
                               f"{spec.get('format') if isinstance(spec, dict) else type(spec).__name__!r}")
    if spec.get("text_normalization") not in (None, NORMALIZATION):
        raise LinearStageError(f"{path}: text_normalization {spec['text_normalization']!r} is unknown to this version "
                               f"(it knows {NORMALIZATION!r})")
    labels = spec.get("labels")
    if not isinstance(labels, list) or len(labels) < 2 or not all(isinstance(label, str) for label in labels):
        raise LinearStageError(f"{path}: labels must be a list of at least two label names")
    features = spec.get("features")
    if not isinstance(features, list) or not features:
        raise LinearStageError(f"{path}: features must be a non-empty list of TF-IDF blocks")
    for block in features:
        ok = (isinstance(block, dict) and isinstance(block.get("name"), str) and block.get("field") in FIELDS
              and block.get("analyzer") in ANALYZERS and isinstance(block.get("vocabulary"), list)
              and isinstance(block.get("ngram_range"), list) and len(block["ngram_range"]) == 2
              and all(isinstance(n, int) and n >= 1 for n in block["ngram_range"]))
        if not ok:
            raise LinearStageError(f"{path}: a feature block must have name, field {FIELDS}, analyzer {ANALYZERS}, "
                                   f"ngram_range [low, high] and vocabulary; got {str(block)[:120]}")
    return spec


def _read_arrays(path: Path) -> dict[str, np.ndarray]:
    """The npz's arrays; a file that needs unpickling (object arrays) is refused, never loaded."""
    if not path.is_file():
        raise LinearStageError(f"bundle file missing: {path}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as exc:
        raise LinearStageError(f"{path}: refused, it holds arrays that only unpickling can read ({exc}); a bundle "
                               "is data and never runs code") from None
    except Exception as exc:  # zipfile and numpy raise many types for a damaged archive
        raise LinearStageError(f"{path}: not a readable numpy archive ({type(exc).__name__}: {str(exc)[:120]})") from None
