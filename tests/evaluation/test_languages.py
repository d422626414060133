"""Per-language evaluation (evaluation/languages.py): which languages are graded, their tables, their bars, and the
gate's per-language numbers. Known answers come from the keyword bundle (tests/keyword_bundle.py: P(harassing) 0.98
for a post with an abuse word, else 0.002); the end-to-end tests evaluate the real tiny bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluation.bias import load_bias_cases
from evaluation.config import EvaluationConfig
from evaluation.functional import load_cases
from evaluation.gate import GATE_METRICS, compare, floor, gate_metrics, scorecard
from evaluation.languages import (
    LANGUAGE_BARS,
    bar_verdict,
    bias_path,
    functional_path,
    graded_languages,
    language_table,
    suite_languages,
)
from tests.conftest import tiny_splits, write_dataset
from tests.evaluation.conftest import copy_bundle
from tests.evaluation.test_gate import CHAMPION
from tests.keyword_bundle import write_keyword_bundle
from withyou.bundle import Classifier
from withyou.integrity import record_checksums
from withyou.language import detect
from withyou.paths import SEED_DIR
from withyou.policy import Thresholds
from withyou.records import Record, read_jsonl

FRENCH_DISCLOSURE = "Mon chef m'a traité de slut devant toute l'équipe puis m'a coincée dans son bureau."
THRESHOLDS = Thresholds(review=0.5, hide=0.9)
PASSING_FR = {"heldout_macro_f1": 0.85, "disclosure_to_harassing_rate": 0.0, "functional_pass_rate": 0.82,
              "bias_false_positive_rate": 0.02, "disclosures_hidden": 0.0}


@pytest.fixture(scope="module")
def keyword_scorer(tmp_path_factory):
    from evaluation.run import BundleScorer

    return BundleScorer(Classifier.from_bundle(write_keyword_bundle(tmp_path_factory.mktemp("keyword") / "bundle")))


def french_test_rows() -> list[Record]:
    disclosure = Record(id="fr-test-0", text=FRENCH_DISCLOSURE, label="disclosure", source="seed", lang="fr",
                        split="test")
    others = [r.model_copy(update={"split": "test"}) for r in read_jsonl(SEED_DIR / "lang" / "fr.jsonl")[100:111]]
    return [disclosure, *others]


# --- which languages, which suites, which bars ---


def test_an_english_only_bundle_is_graded_in_english_alone():
    assert graded_languages(("en",)) == ["en"]


def test_a_bundle_listing_hindi_is_graded_in_both_scripts_and_asked_languages_join():
    assert graded_languages(("en", "hi")) == ["en", "hi", "hi-Latn"]
    assert graded_languages(("en", "hi-Latn")) == ["en", "hi-Latn"]
    assert graded_languages(("en",), asked=("fr",)) == ["en", "fr"]
    assert graded_languages(("en", "pt")) == ["en", "pt"]  # listed without suites: graded, and its bars will fail


def test_every_suite_language_has_bars_40_functional_cases_and_a_bias_suite():
    assert suite_languages() == ["es", "fr", "hi", "hi-Latn", "ja"]
    for lang in suite_languages():
        assert lang in LANGUAGE_BARS
        assert len(load_cases(functional_path(lang))) >= 40, lang
        assert len(load_bias_cases(bias_path(lang))) > 0, lang


def test_bars_pass_at_the_targets_and_name_each_miss():
    assert bar_verdict("fr", PASSING_FR)["passed"]
    missed = bar_verdict("fr", {**PASSING_FR, "functional_pass_rate": 0.79, "disclosures_hidden": 1.0})
    assert not missed["passed"] and len(missed["failures"]) == 2
    assert any("functional suite pass rate 0.79 below its bar 0.8" in line for line in missed["failures"])
    unmeasured = bar_verdict("fr", {**PASSING_FR, "heldout_macro_f1": None})
    assert unmeasured["failures"] == ["fr: held-out seed macro-F1 not measured (bar ≥ 0.8)"]
    assert bar_verdict("ja", {**PASSING_FR, "heldout_macro_f1": None, "functional_pass_rate": 0.7})["passed"]
    assert not bar_verdict("pt", dict.fromkeys(PASSING_FR))["passed"]  # listed, never evaluated


# --- a language's table with a model whose answers are known ---


def test_a_listed_language_has_its_sure_disclosure_hidden_and_fails_its_bars(keyword_scorer):
    test = french_test_rows()
    assert detect(FRENCH_DISCLOSURE).lang == "fr"
    probs = keyword_scorer([r.text for r in test], [r.parent_text for r in test])

    listed = language_table("fr", keyword_scorer, ("en", "fr"), test, probs, THRESHOLDS, main_cases=[])

    assert listed["listed"] and listed["heldout"]["n"] == len(test)
    assert listed["disclosures"]["hidden"] >= 1
    assert listed["functional"]["n"] == len(load_cases(functional_path("fr")))
    assert listed["bias"]["n"] == len(load_bias_cases(bias_path("fr")))
    assert not listed["bars"]["passed"]
    assert any("disclosures hidden" in line for line in listed["bars"]["failures"])


def test_an_unlisted_language_never_has_a_disclosure_hidden_and_has_no_bars(keyword_scorer):
    test = french_test_rows()
    probs = keyword_scorer([r.text for r in test], [r.parent_text for r in test])

    unlisted = language_table("fr", keyword_scorer, ("en",), test, probs, THRESHOLDS, main_cases=[])

    assert not unlisted["listed"] and unlisted["bars"] is None
    assert probs[0].max() > THRESHOLDS.hide  # the model is sure, yet the policy does not hide
    assert unlisted["disclosures"]["hidden"] == 0


# --- the gate and the floor ---


def test_an_english_only_scorecard_is_gated_on_the_main_numbers_alone():
    assert gate_metrics(CHAMPION) == GATE_METRICS


def test_a_regression_in_a_listed_language_fails_the_gate():
    champion = {**CHAMPION, **{f"{k}.fr": v for k, v in PASSING_FR.items()}}
    challenger = {**champion, "functional_pass_rate.fr": 0.70}

    verdict = compare(challenger, champion, tolerance=0.01)

    assert not verdict.passed
    assert [r for r in verdict.reasons if r.startswith("REGRESSION")] == [
        "REGRESSION [fr] functional suite pass rate: 0.7000 vs champion 0.8200 (worse by 0.1200)"]
    assert "[fr] held-out seed macro-F1" in verdict.summary()


def test_the_floor_refuses_a_listed_language_below_its_bars():
    table = {"card": {**PASSING_FR, "functional_pass_rate": 0.5}, "listed": True}
    table["bars"] = bar_verdict("fr", table["card"])
    metrics = {"languages": {"tables": {"fr": table}}}

    verdict = floor(metrics)

    assert verdict.status == "fail" and "fr: functional suite pass rate 0.5 below its bar 0.8" in verdict.line
    assert scorecard(metrics)["functional_pass_rate.fr"] == 0.5
    table["card"]["functional_pass_rate"] = 0.9
    table["bars"] = bar_verdict("fr", table["card"])
    assert floor(metrics).passed and "languages: fr pass their bars" in floor(metrics).line


# --- end to end on the real tiny bundle ---


@pytest.fixture(scope="module")
def french_dataset(tmp_path_factory) -> Path:
    """The tiny dataset with French seed rows held out in its test split."""
    splits = tiny_splits()
    splits["test"] += french_test_rows()
    return write_dataset(tmp_path_factory.mktemp("french_dataset"), splits)


def list_languages(bundle: Path, languages: list[str]) -> Path:
    metadata = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    (bundle / "metadata.json").write_text(json.dumps({**metadata, "languages": languages}), encoding="utf-8")
    record_checksums(bundle)
    return bundle


def evaluation_config(dataset: Path, **overrides) -> EvaluationConfig:
    return EvaluationConfig(dataset_dir=dataset, log_mlflow=False, peers=False, faithfulness_posts=0, **overrides)


def test_an_english_bundle_gets_the_english_table_from_the_main_numbers(tiny_bundle, french_dataset, tmp_path):
    from evaluation.run import evaluate_bundle

    metrics = evaluate_bundle(copy_bundle(tiny_bundle, tmp_path / "b"), evaluation_config(french_dataset)).metrics
    english = metrics["languages"]["tables"]["en"]

    assert metrics["languages"]["graded"] == ["en"]
    assert english["card"]["functional_pass_rate"] == metrics["functional"]["per_language"]["en"]["pass_rate"]
    assert english["card"]["bias_false_positive_rate"] == metrics["bias"]["model"]["overall"]["fpr"]
    assert not any("." in key for key in scorecard(metrics)) and "languages" not in metrics["floor"]["line"]


@pytest.fixture(scope="module")
def french_evaluation(tiny_bundle, french_dataset, tmp_path_factory):
    """The tiny bundle, listing French, evaluated on the dataset with French held out."""
    from evaluation.run import evaluate_bundle

    bundle = list_languages(copy_bundle(tiny_bundle, tmp_path_factory.mktemp("french") / "b"), ["en", "fr"])
    return evaluate_bundle(bundle, evaluation_config(french_dataset))


def test_a_bundle_listing_french_is_graded_in_french_reported_and_held_to_its_bars(french_evaluation, tmp_path):
    from evaluation.report import write_report

    metrics = french_evaluation.metrics
    french = metrics["languages"]["tables"]["fr"]
    html, _ = write_report(french_evaluation, tmp_path / "report")

    assert metrics["languages"]["graded"] == ["en", "fr"] and french["listed"]
    assert french["heldout"]["n"] == len(french_test_rows())
    assert metrics["floor"]["status"] == "fail" and "fr: " in metrics["floor"]["line"]  # a few steps of training
    assert metrics["headline"]["functional_pass_rate.fr"] == french["card"]["functional_pass_rate"]
    assert "<h3>fr (listed)</h3>" in html.read_text(encoding="utf-8")


def test_the_gate_grades_the_champion_in_the_challengers_languages(tiny_bundle, french_evaluation, french_dataset,
                                                                   tmp_path):
    """The same model, listing French or not: the champion is graded in French too and gets the same French
    numbers; only hiding can differ (it hides French posts only when it lists French)."""
    from evaluation.run import gate_against

    champion = copy_bundle(tiny_bundle, tmp_path / "champion")

    verdict = gate_against(str(champion), french_evaluation, load_data(french_dataset), evaluation_config(french_dataset))

    for key in ("heldout_macro_f1", "disclosure_to_harassing_rate", "functional_pass_rate", "bias_false_positive_rate"):
        assert verdict.challenger[f"{key}.fr"] == verdict.champion[f"{key}.fr"] is not None, key
    assert verdict.challenger["disclosures_hidden.fr"] >= verdict.champion["disclosures_hidden.fr"]
    assert "[fr] functional suite pass rate" in verdict.summary()


def load_data(dataset: Path):
    from evaluation.run import load_eval_data

    return load_eval_data(dataset)
