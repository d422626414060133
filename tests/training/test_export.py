"""Export: ONNX graphs that match torch, int8 smaller than fp32, and a parity check that really fails exports."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from training.config import TrainConfig
from training.export import ExportError, ParityError, export_bundle, torch_logits
from withyou.bundle import Classifier

pytestmark = pytest.mark.slow


def test_default_parity_thresholds_are_the_issues():
    defaults = inspect.signature(export_bundle).parameters
    assert defaults["max_abs_diff"].default == TrainConfig().parity_max_abs_diff == 1e-4
    assert defaults["min_int8_agreement"].default == TrainConfig().parity_min_int8_agreement == 0.995


def test_fp32_onnx_logits_match_torch_within_1e_4(tiny_model):
    records = tiny_model.splits["train"]
    texts, parents = [r.text for r in records], [r.parent_text for r in records]
    reference = torch_logits(tiny_model.model, tiny_model.tokenizer, texts, parents)
    onnx = Classifier.from_bundle(tiny_model.bundle, model_file="model.fp32.onnx").logits(texts, parents)
    assert np.abs(onnx - reference).max() <= 1e-4


def test_int8_model_is_at_least_twice_smaller(tiny_bundle):
    # per-channel int8 everywhere but the GELU-fed projections, which stay fp32 (export.quantize_int8)
    fp32 = (tiny_bundle / "model.fp32.onnx").stat().st_size
    int8 = (tiny_bundle / "model.onnx").stat().st_size
    assert int8 * 2 < fp32


def test_quantisation_keeps_the_gelu_fed_matmuls_in_fp32(tiny_bundle):
    import onnx

    from training.export import after_gelu_matmuls

    fp32 = onnx.load(str(tiny_bundle / "model.fp32.onnx"))
    kept = set(after_gelu_matmuls(fp32))
    assert len(kept) == 6  # one feed-forward output per MiniLM layer, and nothing behind a LayerNorm
    assert all("output/dense" in name and "attention" not in name for name in kept)
    int8_ops = {node.name: node.op_type for node in onnx.load(str(tiny_bundle / "model.onnx")).graph.node}
    assert all(int8_ops.get(name) == "MatMul" for name in kept)
    assert "MatMulInteger" in int8_ops.values()


def negated_quantiser(fp32_path, int8_path):
    """An 'int8' graph whose logits are the negated fp32 logits: every argmax moves."""
    import onnx
    from onnx import helper

    model = onnx.load(str(fp32_path))
    (output,) = model.graph.output
    producer = next(node for node in model.graph.node if "logits" in node.output)
    producer.output[list(producer.output).index("logits")] = "logits_raw"
    model.graph.node.append(helper.make_node("Neg", ["logits_raw"], ["logits"], name="negate"))
    onnx.save(model, str(int8_path))
    return []  # no node kept in fp32, as quantize_int8 reports it


def test_int8_that_disagrees_is_replaced_by_fp32_when_fallback_is_allowed(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr("training.export.quantize_int8", negated_quantiser)
    out = tmp_path / "bundle"
    with pytest.warns(UserWarning, match="int8 export rejected"):
        parity = export_bundle(
            tiny_model.model, tiny_model.tokenizer, out, max_length=48,
            parity_records=tiny_model.splits["validation"], exporter="torchscript", int8_fallback=True,
        )
    assert parity.int8_agreement < 0.5 and parity.shipped == "fp32" and parity.passed
    assert (out / "model.onnx").read_bytes() == (out / "model.fp32.onnx").read_bytes()
    metadata = __import__("json").loads((out / "metadata.json").read_text())
    assert metadata["quantization"].startswith("none: int8 label agreement")
    assert metadata["parity"]["shipped"] == "fp32"


def test_int8_that_disagrees_fails_the_export_without_fallback(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr("training.export.quantize_int8", negated_quantiser)
    with pytest.raises(ParityError, match="int8 label agreement"):
        export_bundle(
            tiny_model.model, tiny_model.tokenizer, tmp_path / "bundle", max_length=48,
            parity_records=tiny_model.splits["validation"], exporter="torchscript",
        )
    assert not (tmp_path / "bundle").exists()


def test_parity_figures_are_recorded_in_metadata(tiny_model):
    assert tiny_model.parity.examples == len(tiny_model.splits["validation"]) + len(tiny_model.splits["test"])
    assert tiny_model.parity.fp32_max_abs_diff <= 1e-4
    assert tiny_model.parity.passed


def test_export_fails_and_keeps_no_bundle_when_onnx_disagrees_with_torch(tiny_model, tmp_path):
    records = tiny_model.splits["validation"]
    texts, parents = [r.text for r in records], [r.parent_text for r in records]
    drifted = torch_logits(tiny_model.model, tiny_model.tokenizer, texts, parents) + np.array([0.0, 0.0, 0.0, 0.01])
    out = tmp_path / "bundle"
    with pytest.raises(ParityError, match=r"fp32 ONNX vs torch max \|Δlogit\| = 1\.0\d?e-02"):
        export_bundle(
            tiny_model.model, tiny_model.tokenizer, out, max_length=48, parity_records=records,
            reference_logits=drifted, exporter="torchscript", min_int8_agreement=0.0,
        )
    assert not out.exists()
    assert (tmp_path / "bundle.partial" / "model.onnx").is_file()


def test_export_refuses_to_overwrite_an_existing_bundle(tiny_model):
    with pytest.raises(ExportError, match="already exists"):
        export_bundle(tiny_model.model, tiny_model.tokenizer, tiny_model.bundle, max_length=48)


def test_torchscript_exporter_also_produces_a_loadable_bundle(tiny_model, tmp_path):
    parity = export_bundle(
        tiny_model.model, tiny_model.tokenizer, tmp_path / "bundle", max_length=48,
        parity_records=tiny_model.splits["validation"], exporter="torchscript", keep_fp32=False, min_int8_agreement=0.75,
    )
    assert parity.fp32_max_abs_diff <= 1e-4
    assert not (tmp_path / "bundle" / "model.fp32.onnx").exists()
    assert len(Classifier.from_bundle(tmp_path / "bundle").predict([{"text": "me too"}])) == 1


def test_default_export_fuses_attention_layernorm_and_gelu(tiny_bundle):
    import json

    import onnx

    fused = json.loads((tiny_bundle / "metadata.json").read_text())["fused_operators"]
    assert fused.get("Attention") == 6 and fused.get("BiasGelu") == 6  # one per MiniLM layer
    assert fused.get("SkipLayerNormalization", 0) >= 6
    fp32_ops = {node.op_type for node in onnx.load(str(tiny_bundle / "model.fp32.onnx")).graph.node}
    assert {"Attention", "SkipLayerNormalization", "BiasGelu"} <= fp32_ops
    assert "Softmax" not in fp32_ops  # the eager attention subgraph is gone, not duplicated


def test_unfused_export_keeps_the_plain_graph_and_the_model_usable(tiny_model, tmp_path):
    import onnx

    attention_before = tiny_model.model.config._attn_implementation
    parity = export_bundle(
        tiny_model.model, tiny_model.tokenizer, tmp_path / "bundle", max_length=48,
        parity_records=tiny_model.splits["validation"], fuse=False, min_int8_agreement=0.0,
    )
    ops = {node.op_type for node in onnx.load(str(tmp_path / "bundle" / "model.fp32.onnx")).graph.node}
    assert "Attention" not in ops and "MatMul" in ops
    assert parity.fp32_max_abs_diff <= 1e-4
    # the trace switched the model to eager attention only while exporting
    assert tiny_model.model.config._attn_implementation == attention_before
