"""The canonical disclosures (evaluation/disclosures.py): the movement's own words, a slice that blocks promotion."""

from __future__ import annotations

import re

import numpy as np
import pytest

from evaluation.disclosures import DEFAULT_DISCLOSURES_PATH, run_disclosures
from evaluation.functional import load_cases
from evaluation.gate import compare, floor, scorecard
from withyou.labels import LABELS

CASES = load_cases(DEFAULT_DISCLOSURES_PATH)
HIDE = 0.9


def stand_in(rule):
    """A classifier that gives P(harassing) = rule(text, parent) and the rest to disclosure."""

    def score(texts, parents):
        probs = np.zeros((len(texts), len(LABELS)))
        p = np.array([rule(text, parent) for text, parent in zip(texts, parents)])
        probs[:, LABELS.index("harassing")], probs[:, LABELS.index("disclosure")] = p, 1 - p
        return probs

    return score


def me_too_is_abuse(text, parent):
    """The default model's failure in issue 18: a top-level "me too" read like the parent of a harassing pair."""
    return 0.77 if parent is None and re.search(r"me\s*\.?\s*too", text, re.IGNORECASE) else 0.02


def evaluation_metrics(rule) -> dict:
    """An evaluation of a stand-in that beats the baseline on EDOS and is better than the champion elsewhere."""
    benchmarks = {"edos": {"model": {"macro_f1": 0.85}, "baseline": {"macro_f1": 0.77}}}
    return {"test": {"macro_f1": 0.9, "disclosure_to_harassing_rate": 0.0}, "benchmarks": benchmarks,
            "canonical_disclosures": run_disclosures(stand_in(rule), CASES, HIDE)}


def test_the_slice_has_at_least_80_disclosures_in_every_group():
    assert len(CASES) >= 80 and {c.label for c in CASES} == {"disclosure"}
    assert {c.functionality for c in CASES} == {"bare_me_too", "me_too_with_detail", "plain_report",
                                                "under_supportive_parent", "under_sceptical_parent"}
    bare = {c.text for c in CASES if c.functionality == "bare_me_too"}
    assert {"me too", "Me too.", "ME TOO", "#MeToo", "Me too 😔", "Me too. More than once.", "me too, at work"} <= bare
    assert all(c.parent_text is None for c in CASES if c.functionality in ("bare_me_too", "plain_report"))
    top_level = {c.text for c in CASES if c.parent_text is None}
    assert all(c.text in top_level for c in CASES if c.parent_text is not None)  # the same posts under parents


def test_a_classifier_that_reads_me_too_as_abuse_fails_the_gate_whatever_the_champion():
    metrics = evaluation_metrics(me_too_is_abuse)
    canonical = metrics["canonical_disclosures"]
    assert canonical["harassing"] == 40 and canonical["hidden"] == 0  # every top-level "me too", none hidden
    champion = {**scorecard(metrics), "canonical_harassing_rate": 0.9, "test_macro_f1": 0.5}
    verdict = compare(scorecard(metrics), champion, tolerance=0.01)
    assert not verdict.passed
    assert f"BLOCKED canonical disclosures labelled harassing: {canonical['harassing_rate']:.4f} (must be 0)" in verdict.reasons


def test_a_classifier_that_reads_me_too_as_abuse_fails_the_promotion_floor_though_it_beats_the_baseline():
    verdict = floor(evaluation_metrics(me_too_is_abuse))
    assert not verdict.passed
    n = len(CASES)
    harassing = run_disclosures(stand_in(me_too_is_abuse), CASES, HIDE)["harassing"]
    assert verdict.line == ("above the linear baseline on real text: EDOS dev harassing-vs-rest macro-F1 0.8500 vs "
                            f"baseline 0.7700; canonical disclosures: {harassing} of {n} labelled harassing, 0 hidden "
                            "(must be none)")


def test_one_hidden_disclosure_blocks_though_none_is_labelled_harassing():
    hidden_one = CASES[0].text
    metrics = evaluation_metrics(lambda text, parent: 0.45 if text == hidden_one else 0.01)
    canonical = metrics["canonical_disclosures"]
    canonical_hidden = run_disclosures(stand_in(lambda t, p: 0.45 if t == hidden_one else 0.01), CASES, 0.4)
    assert canonical["hidden"] == 0 and canonical_hidden["hidden"] >= 1 and canonical_hidden["harassing"] == 0
    verdict = compare(scorecard({**metrics, "canonical_disclosures": canonical_hidden}), scorecard(metrics), 0.01)
    assert not verdict.passed and any(r.startswith("BLOCKED canonical disclosures hidden") for r in verdict.reasons)


def test_a_classifier_that_reads_every_case_as_a_disclosure_passes():
    metrics = evaluation_metrics(lambda text, parent: 0.02)
    assert metrics["canonical_disclosures"]["disclosure"] == len(CASES)
    assert compare(scorecard(metrics), scorecard(metrics), 0.0).passed and floor(metrics).passed


def test_failures_name_the_cases_not_read_as_disclosures():
    result = run_disclosures(stand_in(me_too_is_abuse), CASES, HIDE)
    assert result["failures"] and all(f["predicted"] == "harassing" for f in result["failures"])
    assert {f["functionality"] for f in result["failures"]} == {"bare_me_too", "me_too_with_detail"}
    assert result["per_functionality"]["plain_report"]["harassing"] == 0
