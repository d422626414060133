"""The bundle reader: loads what training exports, predicts, and stays free of torch and transformers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from withyou.bundle import BUNDLE_FILES, BundleError, Classifier, Item
from withyou.labels import LABELS

pytestmark = pytest.mark.slow


def test_exported_bundle_has_every_contract_file(tiny_bundle):
    present = {p.name for p in tiny_bundle.iterdir()}
    assert set(BUNDLE_FILES) <= present
    assert "model.fp32.onnx" in present


def test_classifier_predicts_one_known_label_per_item(tiny_bundle):
    classifier = Classifier.from_bundle(tiny_bundle)
    predictions = classifier.predict(
        [Item(text="me too", parent_text="Has a teacher ever made you feel unsafe?", id="a"), {"text": "nice weather"}]
    )
    assert [p.id for p in predictions] == ["a", None]
    for prediction in predictions:
        assert prediction.label in LABELS
        assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert prediction.action in ("allow", "review", "hide")


def test_bundle_onnx_graph_follows_the_input_and_output_contract(tiny_bundle):
    classifier = Classifier.from_bundle(tiny_bundle)
    assert classifier.input_names == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in classifier.session.get_outputs()] == ["logits"]
    assert json.loads((tiny_bundle / "labels.json").read_text()) == list(LABELS)


def test_bundle_scores_batch_of_one_like_a_padded_batch(tiny_bundle):
    classifier = Classifier.from_bundle(tiny_bundle, model_file="model.fp32.onnx")
    texts = ["a short one", "a much longer post that forces the first one to be padded in the batch"]
    together = classifier.logits(texts, [None, "a parent post"])
    alone = classifier.logits(texts[:1])
    assert abs(together[0] - alone[0]).max() < 1e-4


def test_metadata_records_version_parity_and_libraries(tiny_bundle):
    metadata = json.loads((tiny_bundle / "metadata.json").read_text())
    assert metadata["model_version"] == "tiny-test"
    assert metadata["parity"]["fp32_max_abs_diff"] <= 1e-4
    assert {"torch", "onnxruntime", "tokenizers"} <= set(metadata["library_versions"])


def test_bundle_missing_a_file_is_a_clear_error(tiny_bundle, tmp_path):
    broken = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, broken)
    (broken / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match="missing tokenizer.json"):
        Classifier.from_bundle(broken)


def test_importing_bundle_reader_and_predicting_does_not_import_torch(tiny_bundle):
    code = (
        "import sys\n"
        "from withyou.bundle import Classifier\n"
        f"Classifier.from_bundle({str(tiny_bundle)!r}).predict([{{'text': 'hello'}}])\n"
        "loaded = sorted(m for m in ('torch', 'transformers') if m in sys.modules)\n"
        "print(','.join(loaded) or 'none')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "none"


def test_length_bucketed_batches_return_logits_in_input_order(tiny_bundle):
    texts = [f"post {i} " + "word " * ((i * 7) % 23) for i in range(17)]
    parents = [None if i % 3 else "the post this answers" for i in range(17)]
    bucketed = Classifier.from_bundle(tiny_bundle, model_file="model.fp32.onnx", batch_size=4, max_batch_tokens=40)
    one_by_one = np.stack([bucketed.logits([t], [p])[0] for t, p in zip(texts, parents)])
    assert np.abs(bucketed.logits(texts, parents) - one_by_one).max() < 1e-4


FIVE_LABELS = ("disclosure", "supportive", "harassing", "neutral", "threat")


def test_a_bundle_with_a_fifth_label_loads_and_predicts(tmp_path):
    """The labels are the bundle's (issue 11 item 4): LABELS is only the default training set."""
    from tests.tiny_bundles import export_tiny

    bundle = export_tiny("bert", tmp_path / "bundle", labels=FIVE_LABELS)
    assert json.loads((bundle / "labels.json").read_text()) == list(FIVE_LABELS)
    classifier = Classifier.from_bundle(bundle)
    assert classifier.labels == list(FIVE_LABELS) and classifier.harassing_index == 2
    (prediction,) = classifier.predict([{"text": "you are lying", "parent_text": "me too", "id": "r1"}])
    assert set(prediction.scores) == set(FIVE_LABELS) and prediction.label in FIVE_LABELS
    assert sum(prediction.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert prediction.action in ("allow", "review", "hide")


def test_a_bundle_without_a_harassing_label_is_refused(tiny_random_bundle, tmp_path):
    """The policy keys on P(harassing): without that label there is nothing to act on, so the bundle is refused."""
    bundle = Path(shutil.copytree(tiny_random_bundle, tmp_path / "bundle"))
    labels = ["disclosure", "supportive", "abuse", "neutral"]
    (bundle / "labels.json").write_text(json.dumps(labels))
    metadata = json.loads((bundle / "metadata.json").read_text())
    metadata.pop("files")
    (bundle / "metadata.json").write_text(json.dumps({**metadata, "labels": labels}))
    with pytest.raises(BundleError, match=r"has no 'harassing' label .* policy acts on P\(harassing\)"):
        Classifier.from_bundle(bundle)


@pytest.mark.parametrize("kind", ["roberta", "distilbert"])
def test_a_non_bert_model_exports_and_predicts_end_to_end(kind, tmp_path):
    """A RoBERTa-style (pad <pad>=1, one token type) and a DistilBERT (no token_type_ids input) model, built locally,
    go through training/export.py and withyou.bundle.Classifier with the bundle's own encoding."""
    from tests.tiny_bundles import export_tiny

    bundle = export_tiny(kind, tmp_path / "bundle")
    metadata = json.loads((bundle / "metadata.json").read_text())
    assert metadata["encoding"]["token_type_ids"] is False and metadata["inputs"] == ["input_ids", "attention_mask"]
    assert metadata["parity"]["fp32_max_abs_diff"] <= 1e-4  # export checked ONNX against torch through Classifier
    classifier = Classifier.from_bundle(bundle, model_file="model.fp32.onnx")
    assert classifier.input_names == ["input_ids", "attention_mask"]
    assert classifier.tokenizer.id_to_token(classifier.pad_id) == "<pad>" and classifier.pad_id == 1
    texts = ["sure you were", "thank you for telling us, it was not your fault and you are not alone at all"]
    parents = ["me too. my manager, 2019.", None]
    together = classifier.logits(texts, parents)
    alone = np.stack([classifier.logits([t], [p])[0] for t, p in zip(texts, parents)])
    assert np.abs(together - alone).max() < 1e-4
    predictions = Classifier.from_bundle(bundle).predict([{"text": t, "parent_text": p} for t, p in zip(texts, parents)])
    assert [p.label in LABELS for p in predictions] == [True, True]
