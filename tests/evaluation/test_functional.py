"""Functional suite: reading the cases file and computing pass rates with and without context."""

from pathlib import Path

import pytest

from evaluation.functional import load_cases, pass_rates
from evaluation.metrics import label_ids
from withyou.records import DataError

CASES_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "evaluation" / "cases.jsonl"


def test_fixture_cases_load():
    cases = load_cases(CASES_FILE)
    assert len(cases) == 10
    assert cases[6].parent_text is None


def test_pass_rate_per_functionality_and_context_gap():
    cases = load_cases(CASES_FILE)
    gold = label_ids([c.label for c in cases])
    with_context = gold.copy()
    with_context[0] = 3  # first "me too" under a disclosure read as neutral: one failure
    without = gold.copy()
    without[4] = without[5] = 3  # sarcasm without its parent reads as neutral
    result = pass_rates(cases, with_context, without)
    assert result["overall"]["pass_rate"] == pytest.approx(9 / 10)
    assert result["per_functionality"]["bare_me_too_under_disclosure"]["pass_rate"] == pytest.approx(0.5)
    sarcasm = result["per_functionality"]["sarcastic_disbelief_in_context"]
    assert sarcasm["pass_rate_with_context"] == 1.0
    assert sarcasm["pass_rate_without_context"] == 0.0
    assert sarcasm["flipped"] == 2
    assert [f["id"] for f in result["failures"]] == ["fx-metoo-1"]


def test_functionality_without_any_parent_has_no_without_context_rate():
    cases = load_cases(CASES_FILE)
    gold = label_ids([c.label for c in cases])
    assert pass_rates(cases, gold, gold)["per_functionality"]["news"]["pass_rate_without_context"] is None


def test_unknown_label_names_file_and_line(tmp_path):
    bad = tmp_path / "cases.jsonl"
    bad.write_text(
        '{"id": "a", "functionality": "f", "text": "t", "parent_text": null, "label": "neutral"}\n'
        '{"id": "b", "functionality": "f", "text": "t", "parent_text": null, "label": "toxic"}\n'
    )
    with pytest.raises(DataError, match=r"cases.jsonl:2: label"):
        load_cases(bad)


def test_duplicate_case_id_is_an_error(tmp_path):
    line = '{"id": "a", "functionality": "f", "text": "t", "parent_text": null, "label": "neutral"}\n'
    (tmp_path / "cases.jsonl").write_text(line + line)
    with pytest.raises(DataError, match="duplicate case id 'a'"):
        load_cases(tmp_path / "cases.jsonl")


def test_missing_parent_key_is_an_error(tmp_path):
    (tmp_path / "cases.jsonl").write_text('{"id": "a", "functionality": "f", "text": "t", "label": "neutral"}\n')
    with pytest.raises(DataError, match="parent_text"):
        load_cases(tmp_path / "cases.jsonl")


def test_other_languages_are_scored_on_their_own_and_not_in_the_grade(tmp_path):
    rows = [
        '{"id": "en-1", "functionality": "f", "text": "I believe you", "parent_text": null, "label": "supportive"}',
        '{"id": "fr-1", "functionality": "language_fr", "text": "Je te crois", "parent_text": null, '
        '"label": "supportive", "lang": "fr"}',
        '{"id": "hi-1", "functionality": "language_hi_latn", "text": "main tumpe vishwas karti hoon", '
        '"parent_text": null, "label": "supportive", "lang": "hi-Latn"}',
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(rows), encoding="utf-8")
    cases = load_cases(path)
    predicted = label_ids(["supportive", "harassing", "neutral"])

    result = pass_rates(cases, predicted, predicted)

    assert result["overall"]["n"] == 1 and result["overall"]["pass_rate"] == 1.0
    assert result["per_language"]["fr"]["pass_rate"] == 0.0
    assert set(result["per_language"]) == {"en", "fr", "hi-Latn"}
    assert pass_rates(cases, predicted, predicted, ["en", "fr"])["overall"]["n"] == 2


def test_shipped_cases_hold_each_language_slice_with_all_four_labels():
    from evaluation.functional import DEFAULT_CASES_PATH

    cases = load_cases(DEFAULT_CASES_PATH)
    for tag in ("fr", "es", "hi", "hi-Latn", "ja"):
        assert {c.label for c in cases if c.lang == tag} == {"disclosure", "supportive", "harassing", "neutral"}
