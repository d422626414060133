"""Export a fine-tuned classifier to a bundle directory (the contract in withyou/bundle.py), with a parity check.

torch → model.fp32.onnx (torch.onnx.export of the eager-attention graph, then onnxruntime's transformer optimizer
fuses attention, LayerNorm and GELU into single CPU kernels) → int8 (onnxruntime dynamic quantisation) → model.onnx
is the int8 graph when it keeps torch's answers, else the fused fp32 graph (the int8 rule, training/parity.py).
The fp32 graph must match torch within 1e-4 on the parity set (the validation split) or the export fails; a
failed bundle stays in `<out>.partial/` for inspection. The bundle records the model's labels (config.id2label, in
logit order), its encoding (withyou.encoding.EncodingSpec), both int8 agreements, and — last — the SHA-256 and size
of every file (withyou/integrity.py).
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from training.config import TrainConfig
from training.fit import model_batch, model_input_names, model_pad_id
from training.parity import ParityReport, check_parity, int8_summary
from withyou.encoding import NORMALIZATION, POST_FIRST, EncodingSpec, set_truncation
from withyou.integrity import record_checksums
from withyou.language import DEFAULT_LANGUAGES
from withyou.labels import HARASSING
from withyou.policy import Thresholds
from withyou.records import Record

LIBRARIES = ("torch", "transformers", "onnx", "onnxscript", "onnxruntime", "tokenizers", "numpy", "scikit-learn")
PROBE_POSTS: tuple[tuple[str | None, str], ...] = (
    (None, "Thanks for sharing this, it helps to know others went through it too."),
    ("Has this ever happened to you at work?", "me too"),
    (None, "The meeting moved to Thursday."),
    ("I was assaulted at a party last year.", "You're lying for attention."),
)
"""Used as the parity set (and the export's sample input) when no validation records are given."""


class ExportError(RuntimeError):
    """The export could not produce a valid bundle."""


class ParityError(ExportError):
    """The exported ONNX models disagree with torch beyond the allowed tolerance."""


class LogitsOnly(torch.nn.Module):
    """Exposes the Hugging Face model as (its inputs, in `input_names` order) → logits, the ONNX contract."""

    def __init__(self, model: torch.nn.Module, input_names: Sequence[str]) -> None:
        super().__init__()
        self.model = model
        self.input_names = tuple(input_names)

    def forward(self, *inputs: torch.Tensor):
        return self.model(**dict(zip(self.input_names, inputs))).logits


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib_metadata.version(name)
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def _as_tokenizer(tokenizer: Any) -> Tokenizer:
    """Accept a `tokenizers.Tokenizer` or a transformers fast tokenizer (its Rust backend is what we ship)."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    if not isinstance(backend, Tokenizer):
        raise ExportError(f"need a fast tokenizer (tokenizers.Tokenizer backend), got {type(tokenizer).__name__}")
    return backend


def export_onnx(model: torch.nn.Module, tokenizer: Tokenizer, path: Path, *, exporter: str = "torchscript", opset: int = 17) -> int:
    """Write an fp32 ONNX graph with dynamic batch and sequence axes on every input; returns the opset written.

    The graph takes the inputs the model reads (training.fit.model_input_names: token_type_ids only for a model
    that uses them). The model is traced with eager attention: scaled_dot_product_attention exports as one opaque
    subgraph that onnxruntime's fusion passes do not recognise, while the eager MatMul/Softmax pattern fuses.
    """
    sample = model_batch(model, tokenizer, [PROBE_POSTS[0][1], PROBE_POSTS[1][1]], [PROBE_POSTS[0][0], PROBE_POSTS[1][0]])
    names = model_input_names(model)
    args = tuple(sample[name] for name in names)
    wrapper = LogitsOnly(model, names).eval()
    with warnings.catch_warnings(), _quiet("torch.onnx"), eager_attention(model):
        warnings.simplefilter("ignore")  # exporter deprecation chatter; failures still raise
        return _export(wrapper, args, names, path, exporter, opset)


@contextmanager
def eager_attention(model: torch.nn.Module):
    """Switch a transformers model to eager attention for the duration (restored after, training keeps SDPA)."""
    config = getattr(model, "config", None)
    previous = getattr(config, "_attn_implementation", None)
    if previous in (None, "eager") or not hasattr(model, "set_attn_implementation"):
        yield
        return
    model.set_attn_implementation("eager")
    try:
        yield
    finally:
        model.set_attn_implementation(previous)


def _export(wrapper: torch.nn.Module, args: tuple, names: Sequence[str], path: Path, exporter: str, opset: int) -> int:
    if exporter == "dynamo":
        batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
        dynamic_shapes = ({0: batch, 1: sequence},) * len(names)
        torch.onnx.export(
            wrapper, args, str(path), input_names=list(names), output_names=["logits"],
            dynamic_shapes=dynamic_shapes, opset_version=opset, dynamo=True, external_data=False, verbose=False,
        )
        return opset
    if exporter == "torchscript":
        opset = min(opset, 17)  # the highest the TorchScript exporter writes
        dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in names} | {"logits": {0: "batch"}}
        torch.onnx.export(
            wrapper, args, str(path), input_names=list(names), output_names=["logits"],
            dynamic_axes=dynamic_axes, opset_version=opset, dynamo=False,
        )
        return opset
    raise ExportError(f"unknown exporter {exporter!r}; use 'dynamo' or 'torchscript'")


FUSABLE_MODEL_TYPES = {"bert": "bert", "roberta": "bert", "xlm-roberta": "bert", "electra": "bert", "mpnet": "bert"}
"""Hugging Face model types whose encoder matches onnxruntime's BERT fusion patterns."""


def fuse_for_cpu(path: Path, model_config: Any) -> dict[str, int]:
    """Rewrite the fp32 graph in place with onnxruntime's transformer optimizer; returns the fused-op counts.

    Attention, SkipLayerNormalization, EmbedLayerNormalization and BiasGelu become single contrib kernels (the
    bundle already needs onnxruntime). Measured on the default model, 2 cores, validation posts: batch-1 p50
    12.3 → 8.9 ms; fused Attention also quantises to QAttention. An unknown architecture is left unfused.
    """
    model_type = FUSABLE_MODEL_TYPES.get(getattr(model_config, "model_type", ""))
    if model_type is None:
        return {}
    from onnxruntime.transformers.optimizer import optimize_model

    with _quiet("onnxruntime.transformers"), _quiet(""):
        optimized = optimize_model(
            str(path), model_type=model_type, num_heads=int(model_config.num_attention_heads),
            hidden_size=int(model_config.hidden_size), opt_level=1,
        )  # fmt: skip
        optimized.save_model_to_file(str(path))
    return {op: count for op, count in optimized.get_fused_operator_statistics().items() if count}


def quantize_int8(fp32_path: Path, int8_path: Path, keep_fp32: Sequence[str] = ()) -> list[str]:
    """Dynamic int8 quantisation of the weight MatMuls (activations stay float, quantised at run time).

    Two choices keep int8 labels close to torch's: per-channel weight scales, and the feed-forward output
    projections (the MatMul right after GELU) left in fp32 — GELU outputs carry the outlier activations that a
    per-tensor uint8 range cannot hold. Measured on the validation split (1,283 posts): library defaults 91.3 %
    label agreement, these choices 98.3–99.2 % depending on the model. `keep_fp32` names further nodes to leave
    in fp32. Returns every node left in fp32 (recorded in metadata.json).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    excluded = sorted(set(after_gelu_matmuls(onnx.load(str(fp32_path), load_external_data=False))) | set(keep_fp32))
    with _quiet(""):  # quantize_dynamic's "consider pre-processing" advice (root logger) is noise here
        quantize_dynamic(
            str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True,
            nodes_to_exclude=excluded,
            extra_options={"MatMulConstBOnly": True, "DefaultTensorType": onnx.TensorProto.FLOAT},  # for contrib-op outputs
        )  # fmt: skip
    return excluded


GELU_OPS = ("Gelu", "FastGelu", "BiasGelu", "Erf", "Tanh")
ELEMENTWISE_OPS = ("Mul", "Add", "Div", "Sub", "Pow", "Cast")
"""What a decomposed GELU (x · 0.5 · (1 + erf(x / √2))) is built from, between its Erf/Tanh and the next MatMul."""


def after_gelu_matmuls(model, hops: int = 3) -> list[str]:
    """Names of MatMul nodes fed by a GELU: its own (fused) op, or the Erf/Tanh of the decomposed form a few
    elementwise ops back. The walk stops at any other op, so a MatMul behind a LayerNorm is not matched."""
    producer = {output: node for node in model.graph.node for output in node.output}

    def near_gelu(tensor: str, depth: int) -> bool:
        node = producer.get(tensor)
        if node is None or depth > hops:
            return False
        if node.op_type in GELU_OPS:
            return True
        return node.op_type in ELEMENTWISE_OPS and any(near_gelu(name, depth + 1) for name in node.input)

    return [node.name for node in model.graph.node if node.op_type == "MatMul" and near_gelu(node.input[0], 0)]


@contextmanager
def _quiet(logger_name: str):
    """Raise a logger to ERROR for the duration of a noisy third-party call."""
    logger = logging.getLogger(logger_name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


@torch.inference_mode()
def torch_logits(
    model: torch.nn.Module, tokenizer: Tokenizer, texts: Sequence[str], parents: Sequence[str | None],
    batch_size: int = 64, normalize: bool = True, segments: str = POST_FIRST,
) -> np.ndarray:
    model.eval()
    out = []
    for start in range(0, len(texts), batch_size):
        inputs = model_batch(
            model, tokenizer, texts[start : start + batch_size], parents[start : start + batch_size], normalize,
            segments,
        )
        out.append(model(**inputs).logits.float().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.num_labels), dtype=np.float32)


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def model_labels(model: torch.nn.Module) -> list[str]:
    """The model's labels in logit order (config.id2label) — what labels.json records; the policy needs HARASSING."""
    config = model.config
    labels = [str(config.id2label[i]) for i in range(config.num_labels)]
    if HARASSING not in labels:
        raise ExportError(f"the model's labels {labels} have no {HARASSING!r}: the allow/review/hide policy acts on it")
    return labels


def parity_set(
    model: torch.nn.Module, tokenizer: Tokenizer, records: Sequence[Record] | None, reference_logits: np.ndarray | None,
    normalize: bool, segments: str = POST_FIRST,
) -> tuple[list[str], list[str | None], np.ndarray]:
    """Texts, parents and torch logits of the parity set: `records` (the validation split), else PROBE_POSTS."""
    if records:
        texts, parents = [r.text for r in records], [r.parent_text for r in records]
    else:
        texts, parents = [text for _, text in PROBE_POSTS], [parent for parent, _ in PROBE_POSTS]
        reference_logits = None
    reference = (
        reference_logits if reference_logits is not None
        else torch_logits(model, tokenizer, texts, parents, normalize=normalize, segments=segments)
    )
    expected = (len(texts), model.config.num_labels)
    if reference.shape != expected:
        raise ExportError(f"reference_logits has shape {reference.shape}, expected {expected}")
    return texts, parents, reference


def bundle_metadata(
    model: torch.nn.Module, tokenizer: Tokenizer, max_length: int, metadata: dict[str, Any] | None, *,
    exporter: str, opset: int, fused: dict[str, int],
) -> dict[str, Any]:
    """metadata.json before parity: what the caller knows, then what the model assumes (labels, encoding, inputs)."""
    names = model_input_names(model)
    encoding = EncodingSpec(max_length=max_length, pad_id=model_pad_id(model, tokenizer),
                            token_type_ids="token_type_ids" in names, segments=(metadata or {}).get("segments", POST_FIRST))
    return {
        "model_version": "unversioned",
        "base_model": None,
        "data_hash": None,
        "metrics": {},
        **(metadata or {}),
        "max_length": max_length,
        "text_normalization": (metadata or {}).get("text_normalization", NORMALIZATION),
        "languages": list((metadata or {}).get("languages", DEFAULT_LANGUAGES)),
        "labels": model_labels(model),
        "encoding": encoding.to_json(),
        "inputs": list(names),
        "exporter": exporter,
        "opset": opset,
        "fused_operators": fused,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "library_versions": library_versions(),
    }


def export_bundle(
    model: torch.nn.Module,
    tokenizer: Any,
    out_dir: Path | str,
    *,
    max_length: int,
    metadata: dict[str, Any] | None = None,
    parity_records: Sequence[Record] | None = None,
    reference_logits: np.ndarray | None = None,
    thresholds: Thresholds | None = None,
    exporter: str = TrainConfig.exporter,
    opset: int = TrainConfig.opset,
    fuse: bool = TrainConfig.fuse,
    keep_fp32: bool = TrainConfig.keep_fp32,
    max_abs_diff: float = TrainConfig.parity_max_abs_diff,
    min_int8_agreement: float = TrainConfig.parity_min_int8_agreement,
    int8_min_margin: float = TrainConfig.parity_int8_min_margin,
    overwrite: bool = False,
) -> ParityReport:
    """Export `model` + `tokenizer` to `out_dir` as a bundle and return its parity figures.

    `fuse` runs onnxruntime's transformer fusions on the fp32 graph (fuse_for_cpu) before quantisation.
    `parity_records` should be the validation split; `reference_logits` (torch logits for those records, in
    order) skips recomputing them. `thresholds` are written to thresholds.json and used by the int8 rule (default:
    withyou.policy.Thresholds(), the placeholder evaluation replaces). `metadata` adds model_version, base_model,
    data_hash, metrics, ... and `text_normalization`: withyou.encoding.NORMALIZATION unless given (every model
    `withyou train` makes reads normalised text); None for a checkpoint trained on raw text, which is then served
    raw. Labels, encoding and file checksums are recorded from the model and the written files.
    Raises ParityError (bundle left in `<out_dir>.partial`) when the fp32 graph drifts from torch; an int8 graph
    that misses the int8 rule is not an error — model.onnx is then the fp32 graph and metadata.json says so.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ExportError(f"{out_dir} already exists; choose another directory or pass overwrite=True")
    model = model.float().eval()
    labels = model_labels(model)
    thresholds = thresholds or Thresholds()
    backend = set_truncation(Tokenizer.from_str(_as_tokenizer(tokenizer).to_str()), max_length)
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    opset = export_onnx(model, backend, staging / "model.fp32.onnx", exporter=exporter, opset=opset)
    fused = fuse_for_cpu(staging / "model.fp32.onnx", model.config) if fuse else {}
    fp32_nodes = quantize_int8(staging / "model.fp32.onnx", staging / "model.onnx")
    backend.save(str(staging / "tokenizer.json"))
    write_json(staging / "labels.json", labels)
    write_json(staging / "thresholds.json", thresholds.model_dump())
    write_json(staging / "calibration.json", {"temperature": 1.0})
    meta = bundle_metadata(model, backend, max_length, metadata, exporter=exporter, opset=opset, fused=fused)
    write_json(staging / "metadata.json", meta)
    record_checksums(staging)  # the parity check loads the staging bundle through the verifying reader

    normalize = meta["text_normalization"] is not None
    segments = meta["encoding"]["segments"]
    texts, parents, reference = parity_set(model, backend, parity_records, reference_logits, normalize, segments)
    parity = check_parity(
        staging, reference, texts, parents, max_abs_diff=max_abs_diff, thresholds=thresholds,
        min_int8_agreement=min_int8_agreement, int8_min_margin=int8_min_margin,
    )
    meta["quantization"] = f"onnxruntime dynamic int8 (QInt8 per-channel weights; {len(fp32_nodes)} weight nodes kept in fp32)"
    meta["fp32_nodes"] = fp32_nodes
    if parity.shipped == "fp32":
        shutil.copyfile(staging / "model.fp32.onnx", staging / "model.onnx")
        meta["quantization"] = f"none: {int8_summary(parity)}, so model.onnx is the fused fp32 graph"
        warnings.warn(f"int8 graph not shipped ({meta['quantization']})", stacklevel=2)
    meta["parity"] = asdict(parity)
    write_json(staging / "metadata.json", meta)
    if not parity.passed:
        raise ParityError(
            f"export parity failed on {parity.examples} posts: fp32 ONNX vs torch max |Δlogit| = "
            f"{parity.fp32_max_abs_diff:.2e} (allowed ≤ {max_abs_diff:.0e}). Bundle left in {staging}"
        )
    if not keep_fp32:
        (staging / "model.fp32.onnx").unlink()
    record_checksums(staging)
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return parity
