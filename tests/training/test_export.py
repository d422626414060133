"""Export: ONNX graphs that match torch, int8 smaller than fp32, and a parity check that really fails exports."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pytest

from training.config import TrainConfig
from training.export import ExportError, ParityError, export_bundle, torch_logits
from training.parity import int8_rule
from withyou.bundle import Classifier
from withyou.policy import Thresholds

pytestmark = pytest.mark.slow


def test_default_parity_thresholds_are_the_issues_and_declared_once():
    defaults = inspect.signature(export_bundle).parameters
    config = TrainConfig()
    assert defaults["max_abs_diff"].default == config.parity_max_abs_diff == 1e-4
    assert defaults["min_int8_agreement"].default == config.parity_min_int8_agreement == 0.995
    assert defaults["int8_min_margin"].default == config.parity_int8_min_margin == 0.1
    for name in ("exporter", "opset", "fuse", "keep_fp32"):
        assert defaults[name].default == getattr(config, name)
    # the int8 rule always falls back to fp32: there is no second, disagreeing switch for it
    assert "int8_fallback" not in defaults and not hasattr(config, "int8_fallback")


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


def identity_quantiser(fp32_path, int8_path):
    """An 'int8' graph that is the fp32 graph: it agrees with torch on every post."""
    import shutil

    shutil.copyfile(fp32_path, int8_path)
    return []


RULE = dict(harassing_index=2, thresholds=Thresholds(review=0.5, hide=0.9), min_agreement=0.995, min_margin=0.1)


def logits_for(probabilities) -> np.ndarray:
    return np.log(np.asarray(probabilities, dtype=np.float64))


def test_int8_rule_ships_int8_when_confident_labels_and_all_actions_agree():
    torch = logits_for([[0.7, 0.1, 0.1, 0.1]] * 199 + [[0.1, 0.1, 0.7, 0.1]])
    int8 = torch + 0.01
    decision = int8_rule(torch, int8, **RULE)
    assert decision.ship_int8
    assert decision.confident_examples == 200 and decision.label_agreement == 1.0 and decision.action_agreement == 1.0


def test_int8_rule_ignores_label_flips_on_near_ties_but_not_on_confident_posts():
    near_tie = [0.46, 0.44, 0.05, 0.05]  # top-2 margin 0.02 < 0.1
    torch = logits_for([[0.7, 0.1, 0.1, 0.1]] * 300 + [near_tie] * 10)
    int8 = torch.copy()
    int8[300:, [0, 1]] = int8[300:, [1, 0]]  # int8 flips every near tie
    assert int8_rule(torch, int8, **RULE).ship_int8
    int8[:2, [0, 1]] = int8[:2, [1, 0]]  # and two confident posts: 298 / 300 = 99.3 % < 99.5 %
    decision = int8_rule(torch, int8, **RULE)
    assert decision.label_agreement == pytest.approx(298 / 300) and not decision.ship_int8


def test_int8_rule_ships_fp32_when_actions_disagree_although_labels_agree():
    # P(harassing) just under the hide threshold for torch, just over for int8: same argmax, another action
    torch = logits_for([[0.05, 0.02, 0.89, 0.04]] * 10 + [[0.7, 0.1, 0.1, 0.1]] * 90)
    int8 = logits_for([[0.04, 0.02, 0.91, 0.03]] * 10 + [[0.7, 0.1, 0.1, 0.1]] * 90)
    decision = int8_rule(torch, int8, **RULE)
    assert decision.label_agreement == 1.0 and decision.action_agreement == pytest.approx(0.9)
    assert not decision.ship_int8


def test_int8_rule_without_a_confident_post_ships_fp32():
    torch = logits_for([[0.26, 0.25, 0.25, 0.24]] * 20)
    decision = int8_rule(torch, torch.copy(), **RULE)
    assert decision.confident_examples == 0 and decision.label_agreement is None and not decision.ship_int8


def test_export_ships_int8_when_the_rule_holds_and_records_both_agreements(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr("training.export.quantize_int8", identity_quantiser)
    out = tmp_path / "bundle"
    parity = export_bundle(
        tiny_model.model, tiny_model.tokenizer, out, max_length=48, parity_records=tiny_model.splits["validation"],
        int8_min_margin=0.0,  # the tiny model's logits are near ties; count every post
    )
    assert parity.shipped == "int8" and parity.int8.label_agreement == 1.0 and parity.int8.action_agreement == 1.0
    recorded = json.loads((out / "metadata.json").read_text())["parity"]
    assert recorded["shipped"] == "int8"
    assert recorded["int8"]["label_agreement"] == 1.0 and recorded["int8"]["action_agreement"] == 1.0
    assert recorded["int8"]["thresholds"] == {"review": 0.5, "hide": 0.9, "source": "placeholder"}


def test_export_ships_the_fused_fp32_graph_when_int8_misses_the_rule(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr("training.export.quantize_int8", negated_quantiser)
    out = tmp_path / "bundle"
    with pytest.warns(UserWarning, match="int8 graph not shipped"):
        parity = export_bundle(
            tiny_model.model, tiny_model.tokenizer, out, max_length=48, parity_records=tiny_model.splits["validation"],
            int8_min_margin=0.0,
        )
    assert parity.int8.label_agreement < 0.5 and parity.shipped == "fp32" and parity.passed
    assert (out / "model.onnx").read_bytes() == (out / "model.fp32.onnx").read_bytes()
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["quantization"].startswith("none: int8 labels agree with torch on")
    assert metadata["parity"]["shipped"] == "fp32" and "action_agreement" in metadata["parity"]["int8"]
    assert Classifier.from_bundle(out).checksums_verified  # checksums are recorded after the swap


def test_export_writes_the_thresholds_it_judged_actions_with(tiny_model, tmp_path):
    thresholds = Thresholds(review=0.2, hide=0.7, source="validation")
    parity = export_bundle(
        tiny_model.model, tiny_model.tokenizer, tmp_path / "bundle", max_length=48,
        parity_records=tiny_model.splits["validation"], thresholds=thresholds, min_int8_agreement=0.0,
    )
    assert parity.int8.thresholds == thresholds.model_dump()
    assert Classifier.from_bundle(tmp_path / "bundle").thresholds == thresholds


def test_training_records_both_int8_agreements_in_metadata_and_mlflow(fast_run):
    from mlflow import MlflowClient

    metadata = json.loads((fast_run.model_dir / "bundle" / "metadata.json").read_text())
    int8 = metadata["parity"]["int8"]
    assert {"label_agreement", "action_agreement", "confident_examples", "min_margin", "thresholds"} <= set(int8)
    run = MlflowClient(fast_run.tracking_uri).get_run(fast_run.report["mlflow"]["run_id"])
    assert run.data.metrics["parity.int8_action_agreement"] == pytest.approx(int8["action_agreement"])
    assert run.data.params["shipped_graph"] == metadata["parity"]["shipped"]


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
