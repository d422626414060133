"""The int8 decision made again by `withyou evaluate` at the fitted temperature and thresholds (evaluation/int8.py).

The bundles are the tiny random BERT with stand-in graphs: model.onnx is its own fp32 graph, exactly (an "int8"
graph that agrees everywhere) or with 2.0 added to the harassing logit (one that disagrees on most posts), and
metadata.json says which graph ships. The random model's logits are near ties, so the stand-ins' bar counts every
post (min_margin 0), as the tiny_bundle fixture's does.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from evaluation.run import EvaluationConfig, evaluate_bundle
from tests.evaluation.conftest import force_label
from withyou.bundle import Classifier
from withyou.int8 import int8_rule
from withyou.integrity import record_checksums
from withyou.policy import Thresholds

pytestmark = pytest.mark.slow


def stand_in(tiny_random_bundle: Path, directory: Path, *, shipped: str, disagreeing: bool) -> Path:
    bundle = Path(shutil.copytree(tiny_random_bundle, directory / "bundle"))
    shutil.copyfile(bundle / "model.fp32.onnx", bundle / "model.onnx")
    if disagreeing:
        force_label(bundle, "harassing", margin=2.0, graphs=("model.onnx",))
    metadata = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    metadata["parity"]["shipped"] = shipped
    metadata["parity"]["int8"].update(min_agreement=0.75, min_margin=0.0)
    (bundle / "metadata.json").write_text(json.dumps(metadata), encoding="utf-8")
    record_checksums(bundle)
    return bundle


def evaluate(bundle: Path, dataset_dir: Path, **options):
    config = EvaluationConfig(dataset_dir=dataset_dir, log_mlflow=False, peers=False, faithfulness_posts=0, **options)
    return evaluate_bundle(bundle, config)


def read_metadata(bundle: Path) -> dict:
    return json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))


def test_an_int8_graph_that_agrees_at_the_placeholder_can_miss_the_rule_at_the_fitted_calibration():
    """Why the export's decision is not enough: P(harassing) 0.40 vs 0.44 is "allow" for both at T = 1 and
    0.5 / 0.9, but at the fitted T = 0.5 they become 0.50 vs 0.59, which the fitted review threshold 0.55 splits."""
    reference = np.log([[0.32, 0.24, 0.40, 0.04]] * 20 + [[0.7, 0.1, 0.1, 0.1]] * 80)
    int8 = np.log([[0.26, 0.26, 0.44, 0.04]] * 20 + [[0.7, 0.1, 0.1, 0.1]] * 80)
    rule = dict(harassing_index=2, min_agreement=0.995, min_margin=0.1)
    placeholder = int8_rule(reference, int8, thresholds=Thresholds(), **rule)
    fitted = int8_rule(reference, int8, thresholds=Thresholds(review=0.55, hide=0.9, source="validation"),
                       temperature=0.5, **rule)  # fmt: skip
    assert placeholder.ship_int8 and placeholder.action_agreement == 1.0
    assert not fitted.ship_int8 and fitted.action_agreement == pytest.approx(0.8) and fitted.temperature == 0.5


def test_an_int8_bundle_that_misses_the_rule_at_the_fitted_thresholds_is_switched_to_fp32(
    tiny_random_bundle, tiny_dataset_dir, tmp_path
):
    bundle = stand_in(tiny_random_bundle, tmp_path, shipped="int8", disagreeing=True)
    evaluation = evaluate(bundle, tiny_dataset_dir)

    assert (bundle / "model.onnx").read_bytes() == (bundle / "model.fp32.onnx").read_bytes()
    metadata = read_metadata(bundle)
    fitted = metadata["parity"]["fitted"]
    assert metadata["parity"]["shipped"] == "fp32" and metadata["quantization"].startswith("none: at the fitted")
    assert fitted["checked"] and fitted["switched"] and not fitted["ship_int8"] and fitted["label_agreement"] < 0.75
    assert fitted["thresholds"]["source"] == "validation"
    assert evaluation.metrics["int8"]["shipped"] == "fp32" and evaluation.metrics["int8"]["switched"]
    assert evaluation.metrics["headline"]["int8_label_agreement_fitted"] == fitted["label_agreement"]
    # evaluated again on the graph that ships, and the rewritten bundle still verifies
    classifier = Classifier.from_bundle(bundle)
    assert classifier.checksums_verified
    assert classifier.thresholds.source == "validation"


def test_an_int8_bundle_that_keeps_the_rule_stays_int8_with_the_agreements_at_the_fitted_values(
    tiny_random_bundle, tiny_dataset_dir, tmp_path
):
    bundle = stand_in(tiny_random_bundle, tmp_path, shipped="int8", disagreeing=False)
    graph = (bundle / "model.onnx").read_bytes()
    evaluation = evaluate(bundle, tiny_dataset_dir)

    assert (bundle / "model.onnx").read_bytes() == graph
    fitted = read_metadata(bundle)["parity"]["fitted"]
    assert read_metadata(bundle)["parity"]["shipped"] == "int8"
    assert fitted["ship_int8"] and not fitted["switched"] and fitted["label_agreement"] == fitted["action_agreement"] == 1.0
    served = json.loads((bundle / "thresholds.json").read_text())
    assert (fitted["thresholds"]["review"], fitted["thresholds"]["hide"]) == (served["review"], served["hide"])
    assert fitted["temperature"] == json.loads((bundle / "calibration.json").read_text())["temperature"] != 1.0
    assert evaluation.metrics["int8"] == fitted and Classifier.from_bundle(bundle).checksums_verified


def test_without_writing_the_bundle_a_failing_int8_graph_is_reported_not_switched(
    tiny_random_bundle, tiny_dataset_dir, tmp_path
):
    bundle = stand_in(tiny_random_bundle, tmp_path, shipped="int8", disagreeing=True)
    before = {path.name: path.read_bytes() for path in bundle.iterdir()}
    evaluation = evaluate(bundle, tiny_dataset_dir, write_bundle=False)

    assert {path.name: path.read_bytes() for path in bundle.iterdir()} == before
    record = evaluation.metrics["int8"]
    assert record["checked"] and not record["ship_int8"] and not record["switched"] and record["shipped"] == "int8"


def test_an_fp32_bundle_stays_fp32_and_records_the_exports_agreement(tiny_random_bundle, tiny_dataset_dir, tmp_path):
    bundle = stand_in(tiny_random_bundle, tmp_path, shipped="fp32", disagreeing=False)
    graph = (bundle / "model.onnx").read_bytes()
    evaluation = evaluate(bundle, tiny_dataset_dir)

    assert (bundle / "model.onnx").read_bytes() == graph
    record = evaluation.metrics["int8"]
    assert record["shipped"] == "fp32" and not record["checked"] and "no int8 graph left" in record["reason"]
    assert record["export"] == read_metadata(bundle)["parity"]["int8"]
    assert evaluation.metrics["headline"]["int8_action_agreement_fitted"] is None
