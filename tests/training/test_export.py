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


def test_int8_model_is_at_least_three_times_smaller(tiny_bundle):
    fp32 = (tiny_bundle / "model.fp32.onnx").stat().st_size
    int8 = (tiny_bundle / "model.onnx").stat().st_size
    assert int8 * 3 < fp32


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
