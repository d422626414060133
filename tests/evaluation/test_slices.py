"""Slices of the test set, and the obfuscated-spelling heuristic they use."""

import numpy as np
import pytest

from evaluation.slices import looks_obfuscated, slice_masks, slice_metrics
from withyou.records import Record


@pytest.mark.parametrize(
    "text",
    ["you l1ar", "what a s!ut", "k*ll yourself", "a t t e n t i o n  w h o r e", "l.i.a.r", "wh0re", "shut your a$$"],
)
def test_obfuscated_spellings_are_detected(text):
    assert looks_obfuscated(text)


@pytest.mark.parametrize(
    "text",
    [
        "I believe you. Every word.",
        "covid19 cases rose at 3pm",
        "see https://example.org/a1b2 or mail help@rainn.org",
        "#MeToo2018 was a turning point @user1",
        "Plan A, B and C",
        "this fucking printer jammed again",
    ],
)
def test_plain_text_is_not_obfuscated(text):
    assert not looks_obfuscated(text)


def rec(i, text, label, source="seed", parent=None):
    return Record(id=str(i), text=text, parent_text=parent, label=label, source=source)


RECORDS = [
    rec(1, "me too", "disclosure", parent="share your story"),
    rec(2, "my boss cornered me in the stockroom and would not let me leave", "disclosure", source="public"),
    rec(3, "l1ar l1ar", "harassing", parent="it happened to me"),
    rec(4, "the company settled three lawsuits last year according to filings", "neutral", source="public"),
]


def test_slice_masks_cover_source_parent_short_and_obfuscated():
    masks = slice_masks(RECORDS)
    assert masks["source=public"].tolist() == [False, True, False, True]
    assert masks["with_parent"].tolist() == [True, False, True, False]
    assert masks["short (<6 words)"].tolist() == [True, False, True, False]
    assert masks["obfuscated"].tolist() == [False, False, True, False]


def test_slice_metrics_score_each_slice_on_its_own():
    y = np.array([0, 0, 2, 3])
    probs = np.array([[0, 0, 1, 0], [1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], dtype=float)
    result = slice_metrics(y, probs, slice_masks(RECORDS))
    assert result["with_parent"]["disclosure_to_harassing_rate"] == 1.0
    assert result["without_parent"]["accuracy"] == 1.0
    assert result["obfuscated"]["n"] == 1
