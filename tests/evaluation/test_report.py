"""The report renders from a real evaluation of the tiny bundle: plots embedded, data text escaped."""

import json

import pytest

from evaluation.report import write_report
from evaluation.run import EvaluationConfig, evaluate_bundle
from tests.evaluation.conftest import CASES_FILE

pytestmark = pytest.mark.slow


@pytest.fixture
def report_files(bundle_copy, hostile_dataset_dir, tmp_path):
    config = EvaluationConfig(dataset_dir=hostile_dataset_dir, cases_path=CASES_FILE, shown_errors=1000,
                              log_mlflow=False)
    evaluation = evaluate_bundle(bundle_copy, config)
    return write_report(evaluation, tmp_path / "report")


def test_report_embeds_every_plot_as_base64_png(report_files):
    html = report_files[0].read_text()
    # confusion, PR, reliability, scores, bias per term, functional
    assert html.count('src="data:image/png;base64,iVBORw0KGgo') == 6


def test_report_escapes_script_tags_from_test_posts(report_files):
    html = report_files[0].read_text()
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html
    assert "<script>" not in html
    assert "&lt;b&gt;evil-source&lt;/b&gt;" in html and "<b>evil-source" not in html


def test_metrics_json_holds_headline_numbers_but_no_post_text(report_files):
    text = report_files[1].read_text()
    metrics = json.loads(text)
    assert 0.0 <= metrics["headline"]["test_macro_f1"] <= 1.0
    assert metrics["functional"]["overall"]["n"] == 10
    assert "pwned" not in text


def test_report_states_thresholds_and_disclosure_exposure(report_files):
    html = report_files[0].read_text()
    assert "hide ≥" in html and "review ≥" in html
    assert "disclosures that would be hidden" in html


def test_report_grades_explanations_and_shows_them_escaped(report_files):
    html = report_files[0].read_text()
    metrics = json.loads(report_files[1].read_text())

    assert metrics["faithfulness"]["n"] > 0
    assert {"top", "random"} <= set(metrics["faithfulness"]["comprehensiveness"])
    assert "Explanations: faithfulness" in html
    assert '<div class="explained">' in html
    assert "<script>" not in html
