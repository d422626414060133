"""The model bundle: the only contract between training and serving/evaluation.

A bundle is a directory:

    model.onnx          the served ONNX classifier: the dynamic-int8 graph when it keeps torch's answers (the int8
                        rule in training/export.py), else the fused fp32 graph — metadata.json `parity.shipped`
                        says which; inputs input_ids, attention_mask[, token_type_ids]; output logits [n, labels]
    model.fp32.onnx     optional full-precision export (parity checks, debugging)
    tokenizer.json      Hugging Face `tokenizers` file; encoding rules in withyou/encoding.py
    labels.json         label names in logit order, e.g. ["disclosure", "supportive", "harassing", "neutral"]; any
                        set that includes "harassing" (the policy's label) — the bundle, not the code, says which
    thresholds.json     action thresholds on P(harassing) (withyou/policy.py: Thresholds)
    calibration.json    {"temperature": T} — logits are divided by T before the softmax
    metadata.json       model_version, base_model, preset (the training preset; `withyou retrain` trains it
                        again), data_hash, labels (training order), encoding (pair or single,
                        max length, truncation, pad id, token_type_ids: withyou.encoding.EncodingSpec),
                        text_normalization, languages (ISO 639-1 codes the model was trained on; absent = ["en"]),
                        parity and int8 agreements, metrics, created_at, library_versions, `stages` (["transformer"]
                        or ["transformer", "linear"]), and `files`: SHA-256 and size of every other file
    linear.json, linear.npz   with a linear stage: TF-IDF vocabularies, idf, coefficients as plain data
                        (withyou/linear.py; never a pickle — a bundle holding one is refused)
    blend.json          with a linear stage: the blend's weight, the languages the linear stage reads, the cascade's
                        bar (withyou/blend.py); the temperature and thresholds are then the blend's

Every file is checked before the first prediction (withyou/integrity.py; `verify_bundle` adds a probe run), and
anything wrong is a BundleError naming the file. Reading a bundle needs onnxruntime, tokenizers and numpy only —
never torch, never unpickling (tests/withyou/test_bundle.py proves it). `Classifier.from_bundle(path).predict(items)` is the one
entry point used by evaluation, serving and batch scoring.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Tokenizer

from withyou.encoding import (
    DEFAULT_MAX_LENGTH,
    PARENT_FIRST,
    EncodingSpec,
    encode_posts,
    length_batches,
    pad_encodings,
    pad_id_of,
    set_truncation,
)
from withyou.blend import Blend, pool, read_blend, reads_linear
from withyou.integrity import BUNDLE_FILES, BundleContents, BundleError, check_bundle_dir, read_bundle, read_json
from withyou.labels import HARASSING, Action
from withyou.linear import LinearStage, LinearStageError
from withyou.language import (
    SERVED_PART_REASON,
    UNDETERMINED,
    UNSUPPORTED_REASON,
    bundle_languages,
    is_supported,
    served_text,
)
from withyou.language import detect as detect_language
from withyou.policy import Thresholds, decide_action

__all__ = ["BUNDLE_FILES", "BundleError", "Classifier", "Item", "Prediction", "check_bundle_dir", "read_json",
           "softmax", "verify_bundle"]
GRAPH_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
PROBE_TEXT = "probe"
"""What `verify_bundle` runs through the graph: a fixed word, never a post."""


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
    lang: str = UNDETERMINED
    """ISO 639-1 code of the post's language, or "und" (withyou/language.py)."""
    lang_confidence: float = 0.0
    reason: str | None = None
    """Why the action is not the plain threshold one: withyou.language.UNSUPPORTED_REASON or SERVED_PART_REASON."""
    stage: str = "transformer"
    """Which stage decided (withyou.blend.STAGES): "linear" (the cascade), "blend" or "transformer"."""

    def as_result(self, model_version: str) -> dict[str, Any]:
        """The answer for one post as every output writes it — HTTP (serving/schemas.py ClassifyResult), `withyou
        score` and the MLflow pyfunc flavour — so a new answer field is added here (and in ClassifyResult)."""
        return {"id": self.id, "label": self.label, "scores": self.scores, "action": self.action,
                "model_version": model_version, "lang": self.lang, "lang_confidence": self.lang_confidence,
                "reason": self.reason, "stage": self.stage}  # fmt: skip


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits.astype(np.float64) / temperature
    scaled -= scaled.max(axis=-1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=-1, keepdims=True)


def open_tokenizer(bundle_dir: Path, contents: BundleContents) -> tuple[Tokenizer, EncodingSpec]:
    """tokenizer.json with the bundle's truncation, and the encoding (inferred for a bundle that predates it)."""
    path = Path(bundle_dir) / "tokenizer.json"
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust side raises plain Exception subclasses
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise BundleError(f"{path} is not a readable Hugging Face tokenizers file ({reason})") from None
    encoding = contents.encoding
    if encoding is None:
        max_length = contents.metadata.get("max_length", DEFAULT_MAX_LENGTH)
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1:
            raise BundleError(f"{Path(bundle_dir) / 'metadata.json'}: max_length must be a positive integer, got {max_length!r}")
        encoding = EncodingSpec(max_length=max_length, pad_id=pad_id_of(tokenizer), segments=PARENT_FIRST)
    if encoding.pad_id >= tokenizer.get_vocab_size():
        raise BundleError(f"{path}: pad id {encoding.pad_id} (metadata.json encoding) is outside its vocabulary "
                          f"of {tokenizer.get_vocab_size()}")
    return set_truncation(tokenizer, encoding.max_length), encoding


def open_session(model_path: Path, intra_op_threads: int | None):
    """An onnxruntime CPU session; a file onnxruntime cannot load is a BundleError naming it."""
    import onnxruntime as ort

    if not model_path.is_file():
        raise BundleError(f"bundle {model_path.parent} has no {model_path.name}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads or os.cpu_count() or 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        return ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own pybind exception types
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise BundleError(f"{model_path}: onnxruntime cannot load it ({reason}) — the file is empty, truncated or not "
                          "an ONNX graph; re-export the bundle") from None


def check_graph(session: Any, model_path: Path, labels: list[str], encoding: EncodingSpec) -> list[str]:
    """The graph's inputs are ones withyou.encoding makes and its logits have one column per label; returns the
    input names (token_type_ids is fed only when the graph has it)."""
    inputs = [node.name for node in session.get_inputs()]
    unknown = sorted(set(inputs) - set(GRAPH_INPUTS))
    if unknown or not {"input_ids", "attention_mask"} <= set(inputs):
        raise BundleError(f"{model_path}: graph inputs {inputs}; a WithYou model takes input_ids, attention_mask "
                          "and optionally token_type_ids")
    outputs = {node.name: node.shape for node in session.get_outputs()}
    if "logits" not in outputs:
        raise BundleError(f"{model_path}: graph has no `logits` output (outputs: {sorted(outputs)})")
    width = outputs["logits"][-1] if outputs["logits"] else None
    if isinstance(width, int) and width != len(labels):
        raise BundleError(f"{model_path}: logits have {width} columns but labels.json lists {len(labels)} labels")
    return inputs


def verify_bundle(path: Path | str, model_file: str = "model.onnx") -> "Classifier":
    """Everything a served bundle relies on, checked before the first request: the files, their checksums and
    schemas (withyou/integrity.py), the tokenizer, the graph against the labels, and one probe run through the
    graph. Returns the loaded Classifier (one intra-op thread); raises BundleError naming the file."""
    classifier = Classifier(Path(path), model_file=model_file, intra_op_threads=1)
    try:
        classifier.logits([PROBE_TEXT], [PROBE_TEXT])
    except Exception as exc:  # onnxruntime raises its own types; the probe is a fixed word, never a post
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise BundleError(f"{classifier.path / model_file}: the graph fails on a probe input ({reason})") from None
    return classifier


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
        """Load and check a bundle (withyou/integrity.py, then tokenizer and graph). `intra_op_threads`: onnxruntime
        threads, default all cores (serving passes its per-worker share)."""
        self.path = Path(path)
        contents = read_bundle(self.path)
        self.labels: list[str] = contents.labels
        self.metadata: dict[str, Any] = contents.metadata
        self.thresholds: Thresholds = contents.thresholds
        self.temperature: float = contents.temperature
        self.normalize: bool = contents.normalize
        self.checksums_verified: bool = contents.checksums_verified
        self.tokenizer, encoding = open_tokenizer(self.path, contents)
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        model_path = self.path / model_file
        self.session = open_session(model_path, intra_op_threads)
        self.input_names = check_graph(self.session, model_path, self.labels, encoding)
        takes_types = "token_type_ids" in self.input_names
        if contents.encoding is not None and contents.encoding.token_type_ids != takes_types:
            raise BundleError(f"{self.path / 'metadata.json'}: encoding.token_type_ids is "
                              f"{str(contents.encoding.token_type_ids).lower()} but {model_file} takes {self.input_names}")
        self.encoding: EncodingSpec = replace(encoding, token_type_ids=takes_types)
        self.max_length = self.encoding.max_length
        self.pad_id = self.encoding.pad_id
        self.harassing_index = self.labels.index(HARASSING)
        self.languages = bundle_languages(self.metadata)
        self.stages: list[str] = contents.stages
        self.linear: LinearStage | None = None
        self.blend: Blend | None = None
        if "linear" in self.stages:
            try:
                self.linear = LinearStage.from_bundle(self.path)
            except LinearStageError as exc:
                raise BundleError(str(exc)) from None
            unknown = sorted(set(self.linear.labels) - set(self.labels))
            if unknown:
                raise BundleError(f"{self.path / 'linear.json'}: labels {unknown} are not in labels.json {self.labels}")
            self.blend = read_blend(self.path)

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
        return self.logits_of(self.encode(texts, parent_texts))

    def logits_of(self, encodings: Sequence[Any]) -> np.ndarray:
        """Raw logits for posts already encoded by `withyou.encoding` (anything with `ids`, `attention_mask` and
        `type_ids`), batched as `logits` batches them."""
        out = np.zeros((len(encodings), len(self.labels)), dtype=np.float32)
        for batch in length_batches([len(e.ids) for e in encodings], self.batch_size, self.max_batch_tokens):
            feeds = pad_encodings([encodings[i] for i in batch], self.pad_id).as_feeds(self.input_names)
            (out[batch],) = self.session.run(["logits"], feeds)
        return out

    def predict_proba(
        self, texts: Sequence[str], parent_texts: Sequence[str | None] | None = None, *, calibrated: bool = True
    ) -> np.ndarray:
        """Probabilities [n, len(labels)] in `self.labels` order, as served without the cascade: the blend where the
        bundle has a linear stage (withyou/blend.py), else the transformer; temperature-scaled when `calibrated`."""
        return softmax(self.scores(texts, parent_texts), self.temperature if calibrated else 1.0)

    def scores(self, texts: Sequence[str], parent_texts: Sequence[str | None] | None = None,
               reads_linear: Sequence[bool] | None = None) -> np.ndarray:
        """What the served softmax reads [n, labels]: the transformer's logits, or with a linear stage the blend
        (withyou.blend.pool); `reads_linear` (default: from each post's language) says which posts it reads."""
        logits = self.logits(texts, parent_texts)
        if self.linear is None or not len(texts):
            return logits.astype(np.float64)
        reads = np.asarray(self.reads_linear(texts) if reads_linear is None else reads_linear, dtype=bool)
        linear = np.zeros_like(logits, dtype=np.float64)
        if reads.any():
            chosen = np.flatnonzero(reads)
            parents = parent_texts if parent_texts is not None else [None] * len(texts)
            linear[chosen] = self.linear_probabilities([texts[i] for i in chosen], [parents[i] for i in chosen])
        return pool(logits, linear, self.blend.weight, reads)

    def linear_probabilities(self, texts: Sequence[str], parent_texts: Sequence[str | None] | None = None) -> np.ndarray:
        """The linear stage's probabilities [n, labels] in `self.labels` order (raises without a linear stage)."""
        if self.linear is None:
            raise BundleError(f"bundle {self.path} has no linear stage")
        return self.linear.probabilities_for(self.labels, texts, parent_texts)

    def reads_linear(self, texts: Sequence[str], detections: Sequence[Any] | None = None) -> list[bool]:
        """Which posts the linear stage reads: all but those confidently in a language it was not fitted on."""
        if self.linear is None:
            return [False] * len(texts)
        return reads_linear(texts, self.blend.languages, detections)

    def encode(self, texts: Sequence[str], parent_texts: Sequence[str | None] | None = None) -> list[Any]:
        """Posts as this model reads them (withyou.encoding.encode_posts with the bundle's rules)."""
        return encode_posts(self.tokenizer, texts, parent_texts, self.normalize, self.encoding)

    def probabilities_of(self, encodings: Sequence[Any], *, calibrated: bool = True) -> np.ndarray:
        """`predict_proba` for posts already encoded (`encode`, or explanations' occluded variants)."""
        return softmax(self.logits_of(encodings), self.temperature if calibrated else 1.0)

    def staged_proba(self, texts: Sequence[str], parent_texts: Sequence[str | None] | None = None,
                     thresholds: Thresholds | None = None,
                     detections: Sequence[Any] | None = None) -> tuple[np.ndarray, list[str]]:
        """Served probabilities [n, labels] (calibrated) and the stage that decided each post: the cascade's linear
        stage for a post it reads with P(harassing) under min(cascade bar, review threshold) and a top label above its
        sureness bar, else the blend (or the transformer alone: withyou/blend.py). Posts the cascade answers never
        reach the transformer."""
        thresholds = thresholds or self.thresholds
        parents = list(parent_texts) if parent_texts is not None else [None] * len(texts)
        rows = np.zeros((len(texts), len(self.labels)))
        reads = self.reads_linear(texts, detections)
        stages = ["blend" if r else "transformer" for r in reads]
        linear = np.zeros((len(texts), len(self.labels)))
        chosen = [i for i, r in enumerate(reads) if r]
        if chosen:
            linear[chosen] = self.linear_probabilities([texts[i] for i in chosen], [parents[i] for i in chosen])
            below = self.blend.cascade_below
            if below is not None:
                sure = self.blend.cascade_sure_above
                for i in chosen:
                    if linear[i, self.harassing_index] < min(below, thresholds.review) and linear[i].max() > sure:
                        rows[i], stages[i] = linear[i], "linear"
        rest = [i for i, stage in enumerate(stages) if stage != "linear"]
        if rest:
            scores = self.logits([texts[i] for i in rest], [parents[i] for i in rest])
            if self.linear is not None:
                scores = pool(scores, linear[rest], self.blend.weight, [reads[i] for i in rest])
            rows[rest] = softmax(scores, self.temperature)
        return rows, stages

    def predict(self, items: Sequence[Item | dict], thresholds: Thresholds | None = None) -> list[Prediction]:
        """One Prediction per item, in order: label, scores, action (withyou/policy.py), language and stage.

        With a linear stage and a cascade (withyou/blend.py), a post the linear stage reads and finds clearly
        benign is answered by it alone (stage "linear", action allow) and skips the transformer; the others get
        the blend (stage "blend"), or the transformer alone (stage "transformer") for a post in a language the
        linear stage was not fitted on, or from a bundle without one.

        A post confidently in a language the bundle lacks is never hidden (withyou.language.is_supported), unless
        it holds parts confidently in one of the bundle's languages (withyou.language.served_text): the model then
        reads those parts alone (same parent), and when they reach the hide threshold the post is hidden with
        SERVED_PART_REASON and the parts' label and scores. That costs one more model run per such mixed post and
        nothing for a post in one language; `lang` stays the language of the whole post."""
        items = [item if isinstance(item, Item) else Item(**item) for item in items]
        if not items:
            return []
        thresholds = thresholds or self.thresholds
        texts, parents = [i.text for i in items], [i.parent_text for i in items]
        detections = [detect_language(text) for text in texts]
        rows, stages = self.staged_proba(texts, parents, thresholds, detections)
        supported = [is_supported(d, item.text, self.languages) for d, item in zip(detections, items)]
        served = {index: served_text(items[index].text, self.languages) for index, ok in enumerate(supported) if not ok}
        served = {index: text for index, text in served.items() if text}
        part_parents = [items[index].parent_text for index in served]
        part_rows = dict(zip(served, self.predict_proba(list(served.values()), part_parents))) if served else {}
        predictions = []
        for index, (item, row, detection) in enumerate(zip(items, rows, detections)):
            part_row, stage = part_rows.get(index), stages[index]
            if part_row is not None and decide_action(float(part_row[self.harassing_index]), thresholds) == "hide":
                row, action, reason = part_row, "hide", SERVED_PART_REASON
                stage = "blend" if self.linear is not None else "transformer"
            else:
                action = decide_action(float(row[self.harassing_index]), thresholds, supported[index])
                reason = None if supported[index] else UNSUPPORTED_REASON
            scores = {label: float(p) for label, p in zip(self.labels, row)}
            label = self.labels[int(row.argmax())]
            predictions.append(Prediction(id=item.id, label=label, scores=scores, action=action, lang=detection.lang,
                                          lang_confidence=detection.confidence, reason=reason, stage=stage))
        return predictions
