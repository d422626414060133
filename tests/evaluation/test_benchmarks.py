"""Real-text benchmarks (held-out public splits) and the bias suite inside `withyou evaluate`, and the gate on them."""

import json

import joblib
import numpy as np
import pytest
from typer.testing import CliRunner

from evaluation.benchmarks import counter_speech, harassing_vs_rest, load_benchmarks, profanity_probs
from evaluation.metrics import HARASSING
from tests.evaluation.conftest import FIXTURES, copy_bundle, force_label
from withyou.labels import LABELS
from withyou.records import Record, read_jsonl, write_jsonl

BENCHMARK_FIXTURE = FIXTURES / "benchmarks.jsonl"
SUPPORTIVE, NEUTRAL = LABELS.index("supportive"), LABELS.index("neutral")


def one_hot(indices: list[int]) -> np.ndarray:
    probs = np.full((len(indices), len(LABELS)), 0.01)
    probs[np.arange(len(indices)), indices] = 0.97
    return probs


def rec(label: str, parent: str | None = None) -> Record:
    return Record(id=f"r{np.random.default_rng().integers(1 << 30)}", text="t", parent_text=parent, label=label, source="x")


def test_harassing_vs_rest_is_binary_macro_f1_from_the_argmax_label():
    records = [rec("harassing"), rec("harassing"), rec("neutral"), rec("supportive")]
    result = harassing_vs_rest(records, one_hot([HARASSING, NEUTRAL, NEUTRAL, HARASSING]))
    # harassing: P 1/2 R 1/2 → F1 0.5; rest: P 1/2 R 1/2 → F1 0.5
    assert result["macro_f1"] == pytest.approx(0.5) and result["harassing_f1"] == pytest.approx(0.5)
    perfect = harassing_vs_rest(records, one_hot([HARASSING, HARASSING, NEUTRAL, SUPPORTIVE]))
    assert perfect["macro_f1"] == 1.0


def test_counter_speech_read_under_hate_is_counted_separately_from_the_hate():
    records = [rec("supportive", "hate"), rec("supportive", "hate"), rec("harassing"), rec("harassing")]
    probs = one_hot([HARASSING, SUPPORTIVE, HARASSING, NEUTRAL])
    without = one_hot([HARASSING, HARASSING, HARASSING, NEUTRAL])
    result = counter_speech(records, probs, without, review_threshold=0.5)
    assert result["counter_speech_harassing_rate"] == 0.5
    assert result["counter_speech_supportive_rate"] == 0.5
    assert result["counter_speech_harassing_rate_without_parent"] == 1.0
    assert result["hate_caught_rate"] == 0.5
    assert result["counter_speech_review_rate"] == 0.5


def test_profanity_check_never_says_supportive():
    probs = profanity_probs(["you stupid bitch", "lovely weather today"], [None, None])
    assert probs[0].argmax() == HARASSING and probs[1].argmax() == NEUTRAL
    assert not probs[:, SUPPORTIVE].any()


@pytest.fixture
def benchmark_dataset_dir(tiny_dataset_dir, tmp_path):
    """The tiny dataset plus a benchmarks/ folder as `withyou data build` writes it (hand-written posts)."""
    import shutil

    dataset = shutil.copytree(tiny_dataset_dir, tmp_path / "dataset")
    by_source: dict[str, list[Record]] = {}
    for record in read_jsonl(BENCHMARK_FIXTURE):
        by_source.setdefault(record.source, []).append(record)
    (dataset / "benchmarks").mkdir()
    for source, rows in by_source.items():
        write_jsonl(dataset / "benchmarks" / f"{source}.jsonl", rows)
    return dataset


def test_load_benchmarks_reads_every_source_file(benchmark_dataset_dir):
    benchmarks = load_benchmarks(benchmark_dataset_dir)
    assert sorted(benchmarks) == ["crowdcounter", "edos", "misogyny_reddit"]
    assert load_benchmarks(benchmark_dataset_dir / "nowhere") == {}


@pytest.mark.slow
def test_evaluate_reports_benchmarks_and_bias_for_every_model(bundle_copy, benchmark_dataset_dir, tmp_path):
    from training.baseline import BaselineClassifier
    from orchestration.cli import app

    train = read_jsonl(benchmark_dataset_dir / "train.jsonl")
    joblib.dump(BaselineClassifier(min_df=1).fit(train, [r.label for r in train]), bundle_copy.parent / "baseline.joblib")
    result = CliRunner().invoke(app, ["evaluate", str(bundle_copy), "--dataset", str(benchmark_dataset_dir),
                                      "--out", str(tmp_path / "out"), "--no-mlflow"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    for name in ("edos", "misogyny_reddit", "crowdcounter"):
        assert sorted(metrics["benchmarks"][name]) == ["baseline", "model", "profanity_check"]
    assert metrics["benchmarks"]["edos"]["model"]["n"] == 4
    assert metrics["benchmarks"]["crowdcounter"]["baseline"]["n_counter_speech"] == 2
    assert sorted(metrics["bias"]) == ["baseline", "model", "profanity_check"]
    assert metrics["bias"]["model"]["n"] >= 300 and metrics["bias"]["model"]["overall"]["hide_share"] is not None
    assert metrics["headline"]["real_edos_macro_f1"] == metrics["benchmarks"]["edos"]["model"]["macro_f1"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Real-text benchmarks" in html and "Identity-term bias suite" in html and "CrowdCounter" in html
    assert "edos harassing-vs-rest macro-F1" in result.output
    assert "Women are property" not in (tmp_path / "out" / "metrics.json").read_text()  # numbers only, never text


@pytest.mark.slow
def test_gate_refuses_a_challenger_that_calls_counter_speech_harassing(bundle_copy, benchmark_dataset_dir, tmp_path):
    from orchestration.cli import app

    champion = force_label(copy_bundle(bundle_copy, tmp_path / "champion"), "supportive")
    challenger = force_label(copy_bundle(bundle_copy, tmp_path / "challenger"), "harassing")
    result = CliRunner().invoke(app, ["evaluate", str(challenger), "--dataset", str(benchmark_dataset_dir), "--no-peers",
                                      "--out", str(tmp_path / "out"), "--no-mlflow", "--against", str(champion)])
    assert result.exit_code == 1, result.output
    gate = json.loads((tmp_path / "out" / "metrics.json").read_text())["gate"]
    assert not gate["passed"]
    assert any(r.startswith("REGRESSION") and "counter-speech" in r for r in gate["reasons"])
    assert gate["champion"]["counter_speech_harassing_rate"] == 0.0
    assert gate["challenger"]["counter_speech_harassing_rate"] == 1.0
