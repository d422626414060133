"""The int8 decision made again at the bundle's fitted temperature and thresholds (issue 20).

The export decides int8 or fp32 at the placeholder T = 1 and 0.5 / 0.9 (training/parity.py), before anything is
fitted; serving uses the temperature and thresholds evaluation fits, where int8 may move actions it kept before. So
once they are fitted on the validation split (the export's parity set), `int8_decision` applies the same rule
(withyou/int8.py) with the bundle's own bars (metadata.json `parity.int8`) against model.fp32.onnx, which the
export's parity check holds within 1e-4 of torch:

- a bundle shipping int8 that misses the rule there is switched to fp32 (when evaluation writes the bundle):
  model.onnx becomes a copy of model.fp32.onnx, metadata.json says so and the checksums are recorded again;
  evaluation then starts over on the graph that ships (evaluation/run.py);
- a bundle shipping int8 that keeps the rule stays int8;
- a bundle shipping fp32 has no int8 graph left to judge; the record carries the last decision (the export's
  agreements, or the fitted ones that switched it) and says so.

The record goes to metrics.json `int8`, metadata.json `parity.fitted` (when the bundle is written) and MLflow
(eval_int8_* metrics and the version's shipped_graph tag, evaluation/report.py).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from withyou.bundle import read_json
from withyou.int8 import int8_rule
from withyou.integrity import record_checksums
from withyou.policy import Thresholds

REFERENCE_GRAPH = "model.fp32.onnx"


def int8_decision(
    bundle_dir: Path, int8_logits: np.ndarray, fp32_logits: Callable[[], np.ndarray], *, harassing_index: int,
    temperature: float, thresholds: Thresholds, write: bool,
) -> dict[str, Any]:
    """Judge the shipped int8 graph (`int8_logits`: validation logits of model.onnx) against `fp32_logits()` (the
    same posts through model.fp32.onnx, called only when there is an int8 graph to judge) at `temperature` and
    `thresholds`; switch model.onnx to fp32 when it fails and `write`. Returns the record (module docstring)."""
    bundle_dir = Path(bundle_dir)
    metadata = read_json(bundle_dir / "metadata.json")
    parity = metadata.get("parity") or {}
    if not parity.get("int8"):
        return {"checked": False, "shipped": None, "reason": "metadata.json records no export parity"}
    if parity.get("shipped") == "fp32":
        last = parity.get("fitted") or {"checked": False, "export": parity["int8"]}
        return {**last, "shipped": "fp32", "reason": "model.onnx is the fp32 graph: no int8 graph left to judge"}
    if not (bundle_dir / REFERENCE_GRAPH).is_file():
        return {"checked": False, "shipped": "int8", "export": parity["int8"],
                "reason": f"no {REFERENCE_GRAPH} to judge the int8 graph against (exported without keep_fp32)"}  # fmt: skip
    agreement = int8_rule(
        fp32_logits(), int8_logits, harassing_index=harassing_index, thresholds=thresholds, temperature=temperature,
        min_agreement=parity["int8"]["min_agreement"], min_margin=parity["int8"]["min_margin"],
    )
    switch = write and not agreement.ship_int8
    record = {
        "checked": True, "reference": REFERENCE_GRAPH, "examples": len(int8_logits), **asdict(agreement),
        "ship_int8": agreement.ship_int8, "shipped": "int8" if agreement.ship_int8 or not write else "fp32",
        "switched": switch, "line": summary(agreement, len(int8_logits)),
    }  # fmt: skip
    if write:
        metadata["parity"] = {**parity, "fitted": record}
        if switch:
            shutil.copyfile(bundle_dir / REFERENCE_GRAPH, bundle_dir / "model.onnx")
            metadata["parity"]["shipped"] = "fp32"
            metadata["quantization"] = f"none: at the fitted calibration and thresholds, {record['line']}"
        text = json.dumps(metadata, indent=2, ensure_ascii=False) + "\n"
        (bundle_dir / "metadata.json").write_text(text, encoding="utf-8")
        record_checksums(bundle_dir)  # model.onnx and metadata.json changed: the bundle must still verify
    return record


def summary(agreement: Any, examples: int) -> str:
    """One line: the rule's two agreements against its bar, and where they were measured."""
    label = "n/a (no confident post)" if agreement.label_agreement is None else f"{agreement.label_agreement:.2%}"
    return (
        f"int8 labels agree with fp32 on {label} of {agreement.confident_examples} posts with top-2 margin ≥ "
        f"{agreement.min_margin:g}, actions on {agreement.action_agreement:.2%} of {examples} posts (bar "
        f"{agreement.min_agreement:.1%} each) at T = {agreement.temperature:.3f}, review {agreement.thresholds['review']:.3f}"
        f" / hide {agreement.thresholds['hide']:.3f}"
    )
