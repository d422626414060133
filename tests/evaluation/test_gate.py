"""The promotion gate on scorecards alone (the end-to-end CLI gate is in test_registry_gate.py)."""

import pytest

from evaluation.gate import GATE_METRICS, GateError, compare, floor, scorecard

CHAMPION = {
    "test_macro_f1": 0.80,
    "disclosure_to_harassing_rate": 0.02,
    "edos_macro_f1": 0.75,
    "misogyny_macro_f1": 0.70,
    "counter_speech_harassing_rate": 0.30,
    "hate_caught_rate": 0.60,
    "bias_false_positive_rate": 0.05,
    "bias_bpsn_auc": 0.80,
    "functional_pass_rate": 0.75,
    "canonical_harassing_rate": 0.0,
    "canonical_hide_share": 0.0,
}


def better_everywhere(by: float = 0.05) -> dict:
    lower = {m.key for m in GATE_METRICS if not m.higher_is_better}
    return {k: (v - by if k in lower else v + by) for k, v in CHAMPION.items()}


def test_challenger_better_everywhere_passes():
    verdict = compare(better_everywhere(), CHAMPION, tolerance=0.01)
    assert verdict.passed
    assert "PASS" in verdict.summary()


@pytest.mark.parametrize("metric", GATE_METRICS, ids=lambda m: m.key)
def test_a_regression_on_any_one_number_fails_the_gate(metric):
    challenger = better_everywhere()
    challenger[metric.key] = CHAMPION[metric.key] + (-0.02 if metric.higher_is_better else 0.02)
    verdict = compare(challenger, CHAMPION, tolerance=0.01)
    assert not verdict.passed
    assert [r for r in verdict.reasons if r.startswith("REGRESSION")] == [
        next(r for r in verdict.reasons if metric.title in r)
    ]


def test_better_own_test_score_does_not_buy_a_real_text_regression():
    challenger = {**CHAMPION, "test_macro_f1": 0.95, "counter_speech_harassing_rate": 0.50}
    verdict = compare(challenger, CHAMPION, tolerance=0.01)
    assert not verdict.passed
    assert "counter-speech" in " ".join(verdict.reasons)


def test_regression_within_the_slack_passes():
    challenger = {**CHAMPION, "edos_macro_f1": 0.745, "bias_false_positive_rate": 0.055}
    assert compare(challenger, CHAMPION, tolerance=0.01).passed


def test_a_number_missing_on_one_side_is_listed_not_compared():
    challenger = {**CHAMPION, "edos_macro_f1": None}
    verdict = compare(challenger, CHAMPION, tolerance=0.0)
    assert verdict.passed
    assert any("not compared" in r and "EDOS" in r for r in verdict.reasons)


def test_identical_model_passes_at_zero_tolerance():
    assert compare(CHAMPION, CHAMPION, tolerance=0.0).passed


def test_negative_tolerance_is_rejected():
    with pytest.raises(ValueError, match="tolerance"):
        compare(CHAMPION, CHAMPION, tolerance=-0.1)


def test_without_test_macro_f1_the_gate_cannot_compare():
    with pytest.raises(GateError):
        compare({**CHAMPION, "test_macro_f1": None}, CHAMPION)


def test_scorecard_reads_the_served_model_column_of_an_evaluation():
    metrics = {
        "test": {"macro_f1": 0.8, "disclosure_to_harassing_rate": 0.01},
        "benchmarks": {"edos": {"model": {"macro_f1": 0.7}, "baseline": {"macro_f1": 0.9}},
                       "crowdcounter": {"model": {"counter_speech_harassing_rate": 0.1, "hate_caught_rate": 0.5}}},
        "bias": {"model": {"overall": {"fpr": 0.02}, "generalized_mean": {"bpsn_auc": 0.9}}},
        "functional": {"overall": {"pass_rate": 0.85}},
    }
    card = scorecard(metrics)
    assert card["edos_macro_f1"] == 0.7  # the served model's, not the baseline's
    assert card["misogyny_macro_f1"] is None
    assert card["counter_speech_harassing_rate"] == 0.1 and card["bias_bpsn_auc"] == 0.9


def test_scorecard_reads_a_peer_column_from_peers_and_has_no_functional_number():
    metrics = {
        "test": {"macro_f1": 0.8}, "functional": {"overall": {"pass_rate": 0.85}},
        "peers": {"baseline": {"macro_f1": 0.7, "disclosure_to_harassing_rate": 0.02}},
        "benchmarks": {"edos": {"model": {"macro_f1": 0.75}, "baseline": {"macro_f1": 0.72}}},
        "bias": {"baseline": {"overall": {"fpr": 0.04}, "generalized_mean": {"bpsn_auc": 0.91}}},
    }
    card = scorecard(metrics, "baseline")
    assert card["test_macro_f1"] == 0.7 and card["disclosure_to_harassing_rate"] == 0.02
    assert card["edos_macro_f1"] == 0.72 and card["bias_false_positive_rate"] == 0.04
    assert card["functional_pass_rate"] is None


def test_the_gate_refuses_to_compare_models_with_different_label_sets():
    four = ["disclosure", "supportive", "harassing", "neutral"]
    with pytest.raises(GateError, match=r"different label sets: .*only the challenger has \['threat'\]; only the champion has none"):
        compare(better_everywhere(), CHAMPION, challenger_labels=[*four, "threat"], champion_labels=four)


def test_the_gate_compares_models_whose_labels_differ_only_in_order():
    four = ["disclosure", "supportive", "harassing", "neutral"]
    verdict = compare(better_everywhere(), CHAMPION, challenger_labels=four[::-1], champion_labels=four)
    assert verdict.passed


@pytest.mark.slow
def test_gating_a_challenger_with_another_label_set_stops_before_scoring_the_champion(tiny_random_bundle):
    """evaluation.run.gate_against checks the label sets first: no champion evaluation on data it cannot compare."""
    from types import SimpleNamespace

    from evaluation.run import EvaluationConfig, gate_against

    challenger = SimpleNamespace(metrics={"labels": ["disclosure", "supportive", "harassing", "neutral", "threat"]})
    with pytest.raises(GateError, match=r"different label sets"):
        gate_against(str(tiny_random_bundle), challenger, data=None, config=EvaluationConfig())


def evaluation_metrics(transformer: dict[str, float], baseline: dict[str, float] | None) -> dict:
    """The benchmark section of an evaluation's metrics: harassing-vs-rest macro-F1 per benchmark and model."""
    return {"benchmarks": {
        name: {"model": {"macro_f1": score}, **({"baseline": {"macro_f1": baseline[name]}} if baseline else {})}
        for name, score in transformer.items()
    }}


def test_the_floor_refuses_a_model_the_baseline_beats_on_one_real_text_benchmark():
    verdict = floor(evaluation_metrics({"edos": 0.81, "misogyny_reddit": 0.642},
                                       {"edos": 0.72, "misogyny_reddit": 0.703}))
    assert not verdict.passed and verdict.status == "fail"
    assert verdict.line == ("below the linear baseline on real text: EDOS dev harassing-vs-rest macro-F1 0.8100 vs "
                            "baseline 0.7200; misogyny test harassing-vs-rest macro-F1 0.6420 vs baseline 0.7030")


def test_the_floor_passes_a_model_above_the_baseline_on_every_benchmark():
    verdict = floor(evaluation_metrics({"edos": 0.81, "misogyny_reddit": 0.73}, {"edos": 0.72, "misogyny_reddit": 0.70}))
    assert verdict.passed and verdict.status == "pass"


def test_a_tie_with_the_baseline_is_not_beating_it():
    assert not floor(evaluation_metrics({"edos": 0.72}, {"edos": 0.72})).passed


def test_benchmarks_without_baseline_scores_fail_the_floor():
    verdict = floor(evaluation_metrics({"edos": 0.90}, None))
    assert not verdict.passed and "no baseline score" in verdict.line


def test_without_real_text_benchmarks_the_floor_says_it_was_not_checked():
    verdict = floor({"benchmarks": {}})
    assert verdict.passed and verdict.status == "none" and "not checked" in verdict.line
