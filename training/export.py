"""Export a fine-tuned classifier to a bundle directory (the contract in withyou/bundle.py), with a parity check.

torch → model.fp32.onnx (torch.onnx.export, dynamo exporter by default) → model.onnx (onnxruntime dynamic int8).
Parity is measured through the serving path itself (withyou.bundle.Classifier, so tokenisation is included) and
fails the export when broken: max |logit(fp32 ONNX) − logit(torch)| ≤ 1e-4 and int8 label agreement with torch
≥ 99.5 % on the parity set (the validation split). A failed bundle stays in `<out>.partial/` for inspection.
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tokenizers import Tokenizer

from withyou.bundle import Classifier
from withyou.encoding import encode_batch
from withyou.labels import LABELS
from withyou.policy import Thresholds
from withyou.records import Record

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
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


@dataclass(frozen=True)
class ParityReport:
    examples: int
    fp32_max_abs_diff: float
    int8_max_abs_diff: float
    int8_agreement: float
    max_abs_diff_allowed: float
    min_int8_agreement: float
    shipped: str = "int8"
    """Which graph is model.onnx: "int8", or "fp32" when int8 missed the agreement bar and fallback was allowed."""

    @property
    def fp32_passed(self) -> bool:
        return self.fp32_max_abs_diff <= self.max_abs_diff_allowed

    @property
    def int8_passed(self) -> bool:
        return self.int8_agreement >= self.min_int8_agreement

    @property
    def passed(self) -> bool:
        return self.fp32_passed and (self.int8_passed or self.shipped == "fp32")


class LogitsOnly(torch.nn.Module):
    """Exposes the Hugging Face model as (input_ids, attention_mask, token_type_ids) → logits, the ONNX contract."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).logits


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


def export_onnx(model: torch.nn.Module, tokenizer: Tokenizer, path: Path, *, exporter: str = "dynamo", opset: int = 18) -> None:
    """Write an fp32 ONNX graph with dynamic batch and sequence axes on every input."""
    sample = encode_batch(tokenizer, [PROBE_POSTS[0][1], PROBE_POSTS[1][1]], [PROBE_POSTS[0][0], PROBE_POSTS[1][0]])
    args = tuple(torch.from_numpy(getattr(sample, name)) for name in INPUT_NAMES)
    wrapper = LogitsOnly(model).eval()
    with warnings.catch_warnings(), _quiet("torch.onnx"):
        warnings.simplefilter("ignore")  # exporter deprecation chatter; failures still raise
        _export(wrapper, args, path, exporter, opset)


def _export(wrapper: torch.nn.Module, args: tuple, path: Path, exporter: str, opset: int) -> None:
    if exporter == "dynamo":
        batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence")
        dynamic_shapes = {name: {0: batch, 1: sequence} for name in INPUT_NAMES}
        torch.onnx.export(
            wrapper, args, str(path), input_names=list(INPUT_NAMES), output_names=["logits"],
            dynamic_shapes=dynamic_shapes, opset_version=opset, dynamo=True, external_data=False, verbose=False,
        )
    elif exporter == "torchscript":
        dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in INPUT_NAMES} | {"logits": {0: "batch"}}
        torch.onnx.export(
            wrapper, args, str(path), input_names=list(INPUT_NAMES), output_names=["logits"],
            dynamic_axes=dynamic_axes, opset_version=min(opset, 17), dynamo=False,
        )
    else:
        raise ExportError(f"unknown exporter {exporter!r}; use 'dynamo' or 'torchscript'")


def quantize_int8(fp32_path: Path, int8_path: Path) -> None:
    """Dynamic int8 quantisation of the weight MatMuls (activations stay float, quantised at run time).

    Two choices keep int8 labels equal to torch's: per-channel weight scales, and the feed-forward output
    projections (the MatMul right after GELU) left in fp32 — GELU outputs carry the outlier activations that a
    per-tensor uint8 range cannot hold. On a default model that took label agreement with fp32 from 91.3 %
    (library defaults) to 99.1 % for +11 MB (23 → 34 MB).
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    excluded = after_gelu_matmuls(onnx.load(str(fp32_path), load_external_data=False))
    with _quiet(""):  # quantize_dynamic's "consider pre-processing" advice (root logger) is noise here
        quantize_dynamic(
            str(fp32_path), str(int8_path), weight_type=QuantType.QInt8, per_channel=True,
            nodes_to_exclude=excluded, extra_options={"MatMulConstBOnly": True},
        )  # fmt: skip


def after_gelu_matmuls(model, hops: int = 3) -> list[str]:
    """Names of MatMul nodes fed by a GELU: its own op, or the Erf/Tanh of the decomposed form a few ops back."""
    producer = {output: node for node in model.graph.node for output in node.output}

    def near_gelu(tensor: str, depth: int) -> bool:
        node = producer.get(tensor)
        if node is None or depth > hops:
            return False
        if node.op_type in ("Gelu", "FastGelu", "Erf", "Tanh"):
            return True
        return any(near_gelu(name, depth + 1) for name in node.input)

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
def torch_logits(model: torch.nn.Module, tokenizer: Tokenizer, texts: Sequence[str], parents: Sequence[str | None], batch_size: int = 64) -> np.ndarray:
    model.eval()
    out = []
    for start in range(0, len(texts), batch_size):
        batch = encode_batch(tokenizer, texts[start : start + batch_size], parents[start : start + batch_size])
        tensors = {name: torch.from_numpy(getattr(batch, name)) for name in INPUT_NAMES}
        out.append(model(**tensors).logits.float().numpy())
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)), dtype=np.float32)


def check_parity(
    bundle_dir: Path,
    reference: np.ndarray,
    texts: Sequence[str],
    parents: Sequence[str | None],
    *,
    max_abs_diff: float,
    min_int8_agreement: float,
) -> ParityReport:
    """Score the parity set through withyou.bundle.Classifier (fp32 and int8 graphs) and compare with torch."""
    int8 = Classifier.from_bundle(bundle_dir).logits(texts, parents)
    fp32 = Classifier.from_bundle(bundle_dir, model_file="model.fp32.onnx").logits(texts, parents)
    return ParityReport(
        examples=len(texts),
        fp32_max_abs_diff=float(np.abs(fp32 - reference).max()),
        int8_max_abs_diff=float(np.abs(int8 - reference).max()),
        int8_agreement=float((int8.argmax(axis=1) == reference.argmax(axis=1)).mean()),
        max_abs_diff_allowed=max_abs_diff,
        min_int8_agreement=min_int8_agreement,
    )


def write_json(path: Path, payload: Any) -> None:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def export_bundle(
    model: torch.nn.Module,
    tokenizer: Any,
    out_dir: Path | str,
    *,
    max_length: int,
    metadata: dict[str, Any] | None = None,
    parity_records: Sequence[Record] | None = None,
    reference_logits: np.ndarray | None = None,
    exporter: str = "dynamo",
    opset: int = 18,
    keep_fp32: bool = True,
    max_abs_diff: float = 1e-4,
    min_int8_agreement: float = 0.995,
    int8_fallback: bool = False,
    overwrite: bool = False,
) -> ParityReport:
    """Export `model` + `tokenizer` to `out_dir` as a bundle and return its parity figures.

    `parity_records` should be the validation split; `reference_logits` (torch logits for those records, in
    order) skips recomputing them. `metadata` adds model_version, base_model, data_hash, metrics, ...
    Raises ParityError (bundle left in `<out_dir>.partial`) when parity fails. With `int8_fallback`, an int8 graph
    that misses the label-agreement bar is not shipped: model.onnx becomes the (parity-checked) fp32 graph and
    metadata.json says so — serving stays correct, only slower; fp32 drift still fails the export.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not overwrite:
        raise ExportError(f"{out_dir} already exists; choose another directory or pass overwrite=True")
    model = model.float().eval()
    backend = Tokenizer.from_str(_as_tokenizer(tokenizer).to_str())
    backend.enable_truncation(max_length=max_length, strategy="longest_first")
    backend.no_padding()
    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)

    export_onnx(model, backend, staging / "model.fp32.onnx", exporter=exporter, opset=opset)
    quantize_int8(staging / "model.fp32.onnx", staging / "model.onnx")
    backend.save(str(staging / "tokenizer.json"))
    write_json(staging / "labels.json", list(LABELS))
    write_json(staging / "thresholds.json", Thresholds().model_dump())
    write_json(staging / "calibration.json", {"temperature": 1.0})
    meta = {
        "model_version": "unversioned",
        "base_model": None,
        "data_hash": None,
        "metrics": {},
        **(metadata or {}),
        "max_length": max_length,
        "labels": list(LABELS),
        "inputs": list(INPUT_NAMES),
        "exporter": exporter,
        "opset": opset,
        "quantization": "onnxruntime dynamic int8 (QInt8 weights)",
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "library_versions": library_versions(),
    }
    write_json(staging / "metadata.json", meta)

    if parity_records:
        texts = [r.text for r in parity_records]
        parents = [r.parent_text for r in parity_records]
    else:
        texts = [text for _, text in PROBE_POSTS]
        parents = [parent for parent, _ in PROBE_POSTS]
        reference_logits = None
    reference = reference_logits if reference_logits is not None else torch_logits(model, backend, texts, parents)
    if reference.shape != (len(texts), len(LABELS)):
        raise ExportError(f"reference_logits has shape {reference.shape}, expected {(len(texts), len(LABELS))}")
    parity = check_parity(staging, reference, texts, parents, max_abs_diff=max_abs_diff, min_int8_agreement=min_int8_agreement)
    if parity.fp32_passed and not parity.int8_passed and int8_fallback:
        shutil.copyfile(staging / "model.fp32.onnx", staging / "model.onnx")
        parity = replace(parity, shipped="fp32")
        meta["quantization"] = (
            f"none: int8 label agreement {parity.int8_agreement:.2%} < {min_int8_agreement:.1%} on the parity set, "
            "so model.onnx is the fp32 graph"
        )
        warnings.warn(f"int8 export rejected ({meta['quantization']})", stacklevel=2)
    meta["parity"] = asdict(parity)
    write_json(staging / "metadata.json", meta)
    if not parity.passed:
        raise ParityError(
            f"export parity failed on {parity.examples} posts: fp32 ONNX vs torch max |Δlogit| = "
            f"{parity.fp32_max_abs_diff:.2e} (allowed ≤ {max_abs_diff:.0e}); int8 label agreement = "
            f"{parity.int8_agreement:.2%} (required ≥ {min_int8_agreement:.1%}). Bundle left in {staging}"
        )
    if not keep_fp32:
        (staging / "model.fp32.onnx").unlink()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return parity
