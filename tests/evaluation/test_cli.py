"""`withyou evaluate` end to end on real bundles: files written, clear errors, and the promotion gate."""

import json

import pytest
from typer.testing import CliRunner

from tests.evaluation.conftest import CASES_FILE, copy_bundle, force_label
from orchestration.cli import app

pytestmark = pytest.mark.slow
runner = CliRunner()


def evaluate(*args):
    return runner.invoke(app, ["evaluate", *map(str, args)])


def test_evaluate_writes_fitted_calibration_and_thresholds_into_the_bundle(bundle_copy, tiny_dataset_dir, tmp_path):
    result = evaluate(bundle_copy, "--dataset", tiny_dataset_dir, "--cases", CASES_FILE, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    thresholds = json.loads((bundle_copy / "thresholds.json").read_text())
    assert thresholds["source"] == "validation" and thresholds["review"] <= thresholds["hide"]
    assert json.loads((bundle_copy / "calibration.json").read_text())["fitted_on"] == "validation"
    assert (tmp_path / "out" / "report.html").is_file() and (tmp_path / "out" / "metrics.json").is_file()
    assert "macro-F1" in result.output
    assert "no mlflow_run_id" in result.output


def test_no_write_bundle_leaves_the_bundle_files_as_they_were(bundle_copy, tiny_dataset_dir, tmp_path):
    before = (bundle_copy / "thresholds.json").read_text(), (bundle_copy / "calibration.json").read_text()
    result = evaluate(bundle_copy, "--dataset", tiny_dataset_dir, "--out", tmp_path / "out", "--no-write-bundle",
                      "--no-peers")
    assert result.exit_code == 0, result.output
    assert ((bundle_copy / "thresholds.json").read_text(), (bundle_copy / "calibration.json").read_text()) == before


def test_gate_fails_a_challenger_that_calls_every_disclosure_harassing(tiny_bundle, tiny_dataset_dir, tmp_path):
    champion = force_label(copy_bundle(tiny_bundle, tmp_path / "champion"), "neutral")
    challenger = force_label(copy_bundle(tiny_bundle, tmp_path / "challenger"), "harassing")
    result = evaluate(challenger, "--dataset", tiny_dataset_dir, "--out", tmp_path / "out", "--no-peers",
                      "--against", champion)
    assert result.exit_code == 1, result.output
    assert "gate FAIL" in result.output
    assert "REGRESSION own test: disclosures labelled harassing: 1.0000 vs champion 0.0000" in result.output
    assert "BLOCKED canonical disclosures labelled harassing: 1.0000 (must be 0)" in result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["gate"]["passed"] is False
    assert metrics["canonical_disclosures"]["harassing"] == metrics["canonical_disclosures"]["n"] >= 80


def test_gate_passes_a_challenger_that_is_the_champion(tiny_bundle, tiny_dataset_dir, tmp_path):
    """Both read every post as a disclosure: a model that labels a canonical disclosure harassing never passes."""
    champion = force_label(copy_bundle(tiny_bundle, tmp_path / "champion"), "disclosure")
    challenger = force_label(copy_bundle(tiny_bundle, tmp_path / "challenger"), "disclosure")
    result = evaluate(challenger, "--dataset", tiny_dataset_dir, "--out", tmp_path / "out", "--no-peers",
                      "--against", champion, "--tolerance", "0")
    assert result.exit_code == 0, result.output
    assert "gate PASS" in result.output


def test_missing_dataset_is_a_clear_error_not_a_traceback(bundle_copy, tmp_path):
    result = evaluate(bundle_copy, "--dataset", tmp_path / "nowhere", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "withyou data build" in result.output
    assert "Traceback" not in result.output


def test_bad_line_in_extra_file_names_file_and_line(bundle_copy, tiny_dataset_dir, tmp_path):
    extra = tmp_path / "extra.jsonl"
    extra.write_text('{"id": "a", "text": "hi", "label": "neutral", "source": "x"}\n{"id": "b", "text": "hi"\n')
    result = evaluate(bundle_copy, "--dataset", tiny_dataset_dir, "--extra", extra, "--no-peers",
                      "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert "extra.jsonl:2" in result.output


def test_unknown_model_reference_is_a_clear_error(tiny_dataset_dir, tmp_path):
    result = evaluate(tmp_path / "no-such-bundle", "--dataset", tiny_dataset_dir)
    assert result.exit_code == 2
    assert "no bundle directory" in result.output
