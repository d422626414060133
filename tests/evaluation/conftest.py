"""Fixtures for evaluation tests: writable copies of the real tiny bundle, and copies forced to one label."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from withyou.labels import LABELS
from withyou.records import Record, read_jsonl

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "evaluation"
CASES_FILE = FIXTURES / "cases.jsonl"


def copy_bundle(bundle: Path, destination: Path) -> Path:
    """Evaluation writes into the bundle it evaluates, so tests work on a copy of the shared session bundle."""
    return Path(shutil.copytree(bundle, destination))


def force_label(
    bundle: Path, label: str, margin: float = 50.0, graphs: tuple[str, ...] = ("model.onnx", "model.fp32.onnx")
) -> Path:
    """Rewrite the bundle's ONNX `graphs` so `label`'s logit gets `margin` added: the model then always predicts it.

    A real, loadable bundle whose behaviour is known in advance — the way to build a challenger that is worse
    than the champion by construction. Both graphs by default, so that evaluation's int8 decision (which judges
    model.onnx against model.fp32.onnx, evaluation/int8.py) sees a consistent bundle.
    """
    import onnx
    from onnx import helper, numpy_helper

    from withyou.integrity import record_checksums

    for path in (bundle / name for name in graphs if (bundle / name).is_file()):
        model = onnx.load(str(path))
        for node in model.graph.node:
            node.output[:] = ["logits_unbiased" if name == "logits" else name for name in node.output]
        bias = np.zeros(len(LABELS), dtype=np.float32)
        bias[LABELS.index(label)] = margin
        model.graph.initializer.append(numpy_helper.from_array(bias, "forced_label_bias"))
        model.graph.node.append(helper.make_node("Add", ["logits_unbiased", "forced_label_bias"], ["logits"]))
        onnx.save(model, str(path))
    record_checksums(bundle)  # a deliberate edit of the graph, recorded as an export would
    return bundle


@pytest.fixture
def bundle_copy(tiny_bundle: Path, tmp_path: Path) -> Path:
    return copy_bundle(tiny_bundle, tmp_path / "bundle")


@pytest.fixture
def hostile_dataset_dir(tiny_dataset_dir: Path, tmp_path: Path) -> Path:
    """The tiny dataset plus attacker-controlled test posts: markup in text and in a source name.

    The `<script>` post appears twice with different labels, so one of the two is always a model error and is
    listed (escaped) among the report's confident errors, whatever the tiny model predicts.
    """
    from tests.conftest import write_dataset

    splits = {name: read_jsonl(tiny_dataset_dir / f"{name}.jsonl") for name in ("train", "validation", "test")}
    script = "<script>alert('pwned')</script> you are lying"
    splits["test"] += [
        Record(id="xss-1", text=script, label="harassing", source="<b>evil-source</b>", split="test"),
        Record(id="xss-2", text=script, label="neutral", source="<b>evil-source</b>", split="test"),
    ]
    return write_dataset(tmp_path / "hostile_dataset", splits)
