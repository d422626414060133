"""Bundle integrity (issue 13): checksums recorded at export and verified on load, schemas checked before the first
request, and every corrupted file refused with a BundleError that names it — before serving, never as wrong answers."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import pytest

from withyou.bundle import BundleError, Classifier, verify_bundle
from withyou.integrity import BUNDLE_FILES, CHECKSUMS_KEY, file_record, write_bundle_json

pytestmark = pytest.mark.slow

REORDERED = ["disclosure", "supportive", "neutral", "harassing"]


def copy_bundle(source: Path, target: Path, *, checksums: bool = True) -> Path:
    """A private copy; without `checksums` it looks like a bundle exported before they were recorded."""
    shutil.copytree(source, target)
    if not checksums:
        metadata = json.loads((target / "metadata.json").read_text())
        metadata.pop(CHECKSUMS_KEY)
        (target / "metadata.json").write_text(json.dumps(metadata))
    return target


def edit_json(path: Path, change) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


def test_export_records_sha256_and_size_of_every_bundle_file(tiny_random_bundle):
    records = json.loads((tiny_random_bundle / "metadata.json").read_text())[CHECKSUMS_KEY]
    expected = {name for name in BUNDLE_FILES if name != "metadata.json"} | {"model.fp32.onnx"}
    assert set(records) == expected
    for name, record in records.items():
        assert record == file_record(tiny_random_bundle / name)
        assert len(record["sha256"]) == 64 and record["bytes"] > 0


def test_a_bundle_with_checksums_loads_verified(tiny_random_bundle):
    assert Classifier.from_bundle(tiny_random_bundle).checksums_verified


def test_a_bundle_exported_before_checksums_loads_with_one_warning(tiny_random_bundle, tmp_path, caplog):
    legacy = copy_bundle(tiny_random_bundle, tmp_path / "legacy", checksums=False)
    with caplog.at_level(logging.WARNING, logger="withyou.bundle"):
        first = Classifier.from_bundle(legacy)
        Classifier.from_bundle(legacy)
    assert not first.checksums_verified
    assert len(first.predict([{"text": "me too"}])) == 1
    warnings = [r for r in caplog.records if "no file checksums" in r.getMessage()]
    assert len(warnings) == 1 and str(legacy) in warnings[0].getMessage()


def test_reordered_labels_are_refused_not_served_under_the_wrong_names(tiny_random_bundle, tmp_path):
    """Issue 13 defect 3: labels were compared sorted, so a reordered labels.json served wrong answers."""
    for checksums in (True, False):
        bundle = copy_bundle(tiny_random_bundle, tmp_path / f"reordered-{checksums}", checksums=checksums)
        (bundle / "labels.json").write_text(json.dumps(REORDERED))
        with pytest.raises(BundleError, match=r"labels\.json lists .* trained with the labels in the order"):
            Classifier.from_bundle(bundle)


def test_empty_thresholds_are_refused_with_a_clear_message(tiny_random_bundle, tmp_path):
    """Issue 13 defect 4: thresholds.json `{}` fell back to 0.5 / 0.9 silently."""
    bundle = copy_bundle(tiny_random_bundle, tmp_path / "bundle", checksums=False)
    (bundle / "thresholds.json").write_text("{}")
    with pytest.raises(BundleError, match=r"thresholds\.json: has no 'review' and no 'hide' threshold"):
        Classifier.from_bundle(bundle)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


CORRUPTIONS = {
    "model.onnx/truncated": ("model.onnx", truncate),
    "model.onnx/empty": ("model.onnx", lambda p: p.write_bytes(b"")),
    "model.onnx/garbage": ("model.onnx", lambda p: p.write_bytes(b"\x00not an onnx graph" * 64)),
    "tokenizer.json/garbage": ("tokenizer.json", lambda p: p.write_text("garbage {")),
    "tokenizer.json/not-a-tokenizer": ("tokenizer.json", lambda p: p.write_text('{"version": "1.0"}')),
    "labels.json/reordered": ("labels.json", lambda p: p.write_text(json.dumps(REORDERED))),
    "labels.json/object": ("labels.json", lambda p: p.write_text('{"0": "disclosure"}')),
    "labels.json/no-harassing": ("labels.json", lambda p: p.write_text('["disclosure", "supportive", "abuse", "neutral"]')),
    "thresholds.json/empty-object": ("thresholds.json", lambda p: p.write_text("{}")),
    "thresholds.json/garbage": ("thresholds.json", lambda p: p.write_text("review=0.2")),
    "thresholds.json/inverted": ("thresholds.json", lambda p: p.write_text('{"review": 0.9, "hide": 0.5}')),
    "thresholds.json/list": ("thresholds.json", lambda p: p.write_text("[0.5, 0.9]")),
    "thresholds.json/out-of-range": ("thresholds.json", lambda p: p.write_text('{"review": 0.5, "hide": 1.5}')),
    "thresholds.json/string-number": ("thresholds.json", lambda p: p.write_text('{"review": "0.5", "hide": 0.9}')),
    "calibration.json/non-numeric": ("calibration.json", lambda p: p.write_text('{"temperature": "hot"}')),
    "calibration.json/zero": ("calibration.json", lambda p: p.write_text('{"temperature": 0}')),
    "calibration.json/missing-key": ("calibration.json", lambda p: p.write_text("{}")),
    "metadata.json/garbage": ("metadata.json", lambda p: p.write_text("{not json")),
    "metadata.json/list": ("metadata.json", lambda p: p.write_text("[]")),
    "labels.json/deleted": ("labels.json", lambda p: p.unlink()),
}

EXPECTED_WITHOUT_CHECKSUMS = {
    "model.onnx/truncated": r"model\.onnx: onnxruntime cannot load it",
    "model.onnx/empty": r"model\.onnx: onnxruntime cannot load it",
    "model.onnx/garbage": r"model\.onnx: onnxruntime cannot load it",
    "tokenizer.json/garbage": r"tokenizer\.json is not a readable Hugging Face tokenizers file",
    "tokenizer.json/not-a-tokenizer": r"tokenizer\.json is not a readable Hugging Face tokenizers file",
    "labels.json/reordered": r"labels\.json lists .* but the model was trained with the labels in the order",
    "labels.json/object": r"labels\.json must be a JSON list of label names",
    "labels.json/no-harassing": r"labels\.json .* has no 'harassing' label|labels\.json lists",
    "thresholds.json/empty-object": r"thresholds\.json: has no 'review' and no 'hide' threshold",
    "thresholds.json/garbage": r"thresholds\.json is not valid JSON",
    "thresholds.json/inverted": r"thresholds\.json: review threshold 0\.9 is above hide threshold 0\.5",
    "thresholds.json/list": r"thresholds\.json: must be a JSON object",
    "thresholds.json/out-of-range": r"thresholds\.json: hide: Input should be less than or equal to 1",
    "thresholds.json/string-number": r"thresholds\.json: review: Input should be a valid number",
    "calibration.json/non-numeric": r"calibration\.json: `temperature` must be a number > 0, got 'hot'",
    "calibration.json/zero": r"calibration\.json: `temperature` must be a finite number > 0, got 0",
    "calibration.json/missing-key": r"calibration\.json: `temperature` must be a number > 0, got None",
    "metadata.json/garbage": r"metadata\.json is not valid JSON",
    "metadata.json/list": r"metadata\.json must be a JSON object",
    "labels.json/deleted": r"is missing labels\.json",
}

CHANGED = r"{name}: .*(SHA-256 differs from the one recorded at export|bytes, but \d+ were recorded at export)"
EXPECTED_WITH_CHECKSUMS = {
    **EXPECTED_WITHOUT_CHECKSUMS,
    "model.onnx/truncated": r"model\.onnx: \d+ bytes, but \d+ were recorded at export — the file is truncated",
    "model.onnx/empty": r"model\.onnx: 0 bytes, but \d+ were recorded at export",
    "model.onnx/garbage": CHANGED.format(name=r"model\.onnx"),
    "tokenizer.json/garbage": CHANGED.format(name=r"tokenizer\.json"),
    "tokenizer.json/not-a-tokenizer": CHANGED.format(name=r"tokenizer\.json"),
}


@pytest.mark.parametrize("checksums", [True, False], ids=["checksummed", "pre-checksum"])
@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_corrupted_bundle_matrix(tiny_random_bundle, tmp_path, case, checksums):
    """Each file × corruption is a BundleError naming the file and what is wrong (verify_bundle = what serve runs)."""
    name, corrupt = CORRUPTIONS[case]
    bundle = copy_bundle(tiny_random_bundle, tmp_path / "bundle", checksums=checksums)
    corrupt(bundle / name)
    expected = (EXPECTED_WITH_CHECKSUMS if checksums else EXPECTED_WITHOUT_CHECKSUMS)[case]
    with pytest.raises(BundleError, match=expected) as raised:
        verify_bundle(bundle)
    assert str(bundle) in str(raised.value)


def test_verify_bundle_returns_a_classifier_that_has_run_the_graph(tiny_random_bundle):
    classifier = verify_bundle(tiny_random_bundle)
    assert classifier.checksums_verified
    assert classifier.session.get_session_options().intra_op_num_threads == 1


def test_a_graph_whose_logits_do_not_match_the_labels_is_refused(tiny_random_bundle, tmp_path):
    bundle = copy_bundle(tiny_random_bundle, tmp_path / "bundle", checksums=False)
    five = ["disclosure", "supportive", "harassing", "neutral", "spam"]
    (bundle / "labels.json").write_text(json.dumps(five))
    edit_json(bundle / "metadata.json", lambda m: {**m, "labels": five})
    with pytest.raises(BundleError, match=r"model\.onnx: logits have 4 columns but labels\.json lists 5 labels"):
        Classifier.from_bundle(bundle)


def test_rewriting_thresholds_through_write_bundle_json_keeps_the_bundle_verified(tiny_random_bundle, tmp_path):
    """Evaluation writes thresholds.json and calibration.json after export; their checksums follow."""
    bundle = copy_bundle(tiny_random_bundle, tmp_path / "bundle")
    write_bundle_json(bundle, "thresholds.json", {"review": 0.2, "hide": 0.8, "source": "validation"})
    write_bundle_json(bundle, "calibration.json", {"temperature": 1.3})
    classifier = Classifier.from_bundle(bundle)
    assert classifier.checksums_verified and classifier.thresholds.review == 0.2 and classifier.temperature == 1.3
    (bundle / "thresholds.json").write_text(json.dumps({"review": 0.3, "hide": 0.8}))  # by hand: not recorded
    with pytest.raises(BundleError, match=CHANGED.format(name=r"thresholds\.json")):
        Classifier.from_bundle(bundle)


def test_the_core_takes_onnxruntime_threads_as_a_parameter_not_from_the_serving_env(tiny_random_bundle, monkeypatch):
    monkeypatch.setenv("WITHYOU_ORT_THREADS", str((os.cpu_count() or 1) + 3))
    by_default = Classifier.from_bundle(tiny_random_bundle).session.get_session_options().intra_op_num_threads
    assert by_default == (os.cpu_count() or 1)
    given = Classifier.from_bundle(tiny_random_bundle, intra_op_threads=1).session.get_session_options()
    assert given.intra_op_num_threads == 1


def test_a_removed_optional_fp32_graph_does_not_block_serving(tiny_random_bundle, tmp_path):
    bundle = copy_bundle(tiny_random_bundle, tmp_path / "bundle")
    (bundle / "model.fp32.onnx").unlink()
    assert verify_bundle(bundle).checksums_verified
    (bundle / "tokenizer.json").unlink()
    with pytest.raises(BundleError, match=r"is missing tokenizer\.json"):
        verify_bundle(bundle)
