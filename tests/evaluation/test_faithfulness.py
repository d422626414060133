"""ERASER faithfulness: the words an explanation names must matter more than random words, and the numbers say so."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.faithfulness import faithfulness
from withyou.explain import segments
from withyou.bundle import Classifier, Item
from withyou.explain import Span


class LiarClassifier(Classifier):
    """Scores only on the word "liar" in what the model reads (its token ids, decoded): harassing 0.9 with it,
    neutral 0.9 without (a model with one clear cue)."""

    def probabilities_of(self, encodings, *, calibrated=True):
        rows = []
        for encoding in encodings:
            row = np.full(len(self.labels), 0.1 / 3)
            read = self.tokenizer.decode(encoding.ids)
            row[self.harassing_index if "liar" in read else self.labels.index("neutral")] = 0.9
            rows.append(row)
        return np.array(rows).reshape(len(rows), len(self.labels))


@pytest.fixture(scope="module")
def result(tiny_bundle):
    classifier = LiarClassifier.from_bundle(tiny_bundle)
    filler = "the meeting went on for a long time and then everybody went home after lunch"
    items = [Item(text=f"{filler} you liar {i}") for i in range(6)]
    return faithfulness(classifier, items, fractions=(0.1,), seed=0)


def test_top_words_are_more_comprehensive_than_random_words(result):
    top, random = result["comprehensiveness"]["top"]["aopc"], result["comprehensiveness"]["random"]["aopc"]

    assert top == pytest.approx(0.9 - 0.1 / 3, abs=1e-6)  # removing "liar" flips every post
    assert random < top


def test_top_words_alone_are_sufficient_and_random_words_are_not(result):
    assert result["sufficiency"]["top"]["aopc"] == pytest.approx(0.0, abs=1e-6)
    assert result["sufficiency"]["random"]["aopc"] > 0.3


def test_cost_per_explained_post_is_reported(result):
    assert 0 < result["ms_per_post"]["p50"] <= result["ms_per_post"]["p99"]


def test_segments_cover_the_text_and_mark_spans_by_sign():
    text = "you liar, go away"
    pieces = segments(text, [Span(4, 8, 0.5), Span(10, 12, -0.1)])

    assert "".join(p["text"] for p in pieces) == text
    assert [(p["text"], p["kind"]) for p in pieces if p["kind"]] == [("liar", "toward"), ("go", "against")]
