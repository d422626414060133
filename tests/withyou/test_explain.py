"""Occlusion explanations: spans are offsets into the text the client sent, words the model never reads weigh 0,
the parent is explained only when it moved the answer, and nothing needs torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from withyou.bundle import Classifier, Item
from withyou.encoding import POST_FIRST, normalize_text
from withyou.explain import Span, explain, merge_spans, without, word_weights, words


class KeywordClassifier(Classifier):
    """The tiny bundle's tokenizer and settings, with scores that depend only on what the model reads (the token ids
    it is fed, decoded): the text says "liar" → harassing, and a reply under a parent that mentions a manager →
    harassing."""

    def probabilities_of(self, encodings, *, calibrated=True):
        rows = []
        post_type = 0 if self.encoding.segments == POST_FIRST else 1  # the segment the judged post sits in
        for encoding in encodings:
            pair = 1 in encoding.type_ids
            segment = [i for i, t in zip(encoding.ids, encoding.type_ids) if t == (post_type if pair else 0)]
            parent = [i for i, t in zip(encoding.ids, encoding.type_ids) if t == 1 - post_type] if pair else []
            read, read_parent = self.tokenizer.decode(segment), self.tokenizer.decode(parent)
            harassing = "liar" in read or ("sure" in read and "manager" in read_parent)
            row = np.full(len(self.labels), 0.1 / 3)
            row[self.harassing_index if harassing else self.labels.index("neutral")] = 0.9
            rows.append(row)
        return np.array(rows).reshape(len(rows), len(self.labels))


@pytest.fixture(scope="module")
def keyword_classifier(tiny_bundle):
    return KeywordClassifier.from_bundle(tiny_bundle)


def test_span_offsets_point_into_the_original_text_when_normalisation_rewrites_it(keyword_classifier):
    text = "Tom &amp; @someone: see https://example.com/a?b=1 — what a l1ar!!!!! honestly"
    assert "liar" in normalize_text(text)  # the model reads a text other than the one sent

    (explanation,) = explain(keyword_classifier, [Item(text=text)])

    assert explanation.label == "harassing"
    (span,) = explanation.text.harassing
    assert text[span.start : span.end] == "l1ar"
    assert span.weight == pytest.approx(0.9 - 0.1 / 3, abs=1e-3)


def test_words_keep_latin_words_whole_and_split_cjk_characters():
    text = "we   said 嘘つき ok"

    assert [text[s:e] for s, e in words(text)] == ["we", "said", "嘘", "つ", "き", "ok"]


def test_without_removes_exactly_the_word():
    text = "you are a liar, really"
    (liar,) = [(s, e) for s, e in words(text) if text[s:e] == "liar,"]

    assert without(text, [liar]) == "you are a really"


def test_merge_spans_joins_adjacent_words_pushing_the_same_way_and_trims_punctuation():
    text = "you filthy liar, go away"
    positions = words(text)

    spans = merge_spans(text, positions, np.array([0.0, 0.3, 0.5, -0.2, 0.0]), min_weight=0.02)

    assert [(text[s.start : s.end], s.weight) for s in spans] == [("filthy liar", 0.5), ("go", -0.2)]


def test_words_the_model_never_reads_weigh_zero(tiny_bundle):
    classifier = Classifier.from_bundle(tiny_bundle)
    text = "word " * 300 + "zebra"  # the model reads the first 128 tokens

    _, (weights,) = word_weights(classifier, [Item(text=text)])

    assert len(weights.words) == 301
    assert weights.label[200] == 0.0 and weights.harassing[200] == 0.0


def test_parent_is_explained_when_it_moved_the_answer(keyword_classifier):
    parent = "my manager cornered me in 2019"

    (explanation,) = explain(keyword_classifier, [Item(text="Sure you were.", parent_text=parent)])

    assert explanation.parent_shift["harassing"] == pytest.approx(0.9 - 0.1 / 3, abs=1e-3)
    assert [parent[s.start : s.end] for s in explanation.parent.harassing] == ["manager"]


def test_parent_is_not_explained_when_it_changed_nothing(keyword_classifier):
    (explanation,) = explain(keyword_classifier, [Item(text="what a liar", parent_text="my manager, 2019")])

    assert explanation.parent_shift == {"label": 0.0, "harassing": 0.0}
    assert explanation.parent is None


def test_top_words_are_the_heaviest_spans_towards_the_label():
    from withyou.explain import Explanation, TextExplanation

    text = "a b c d"
    spans = [Span(0, 1, 0.1), Span(2, 3, 0.5), Span(4, 5, -0.9), Span(6, 7, 0.3)]
    explanation = Explanation(label="harassing", text=TextExplanation(label=spans, harassing=[]))

    assert explanation.top_words(text, 2) == ["b", "d"]


def test_explaining_with_the_real_bundle_does_not_import_torch(tiny_bundle):
    code = (
        "import sys\n"
        "from withyou.bundle import Classifier, Item\n"
        "from withyou.explain import explain\n"
        f"explain(Classifier.from_bundle({str(tiny_bundle)!r}), [Item(text='you liar', parent_text='me too')])\n"
        "print(','.join(sorted(m for m in ('torch', 'transformers') if m in sys.modules)) or 'none')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "none"


def varied(n: int) -> str:
    """`n` words in which no two neighbours are alike, so deleting any one of them gives a different text."""
    return " ".join(("word", "other", "thing", "place")[i % 4] for i in range(n))


class CountingClassifier(KeywordClassifier):
    """KeywordClassifier that counts model runs and the longest batch it was handed."""

    runs = 0

    def probabilities_of(self, encodings, *, calibrated=True):
        type(self).runs += len(encodings)
        return super().probabilities_of(encodings, calibrated=calibrated)


def test_a_long_post_costs_model_runs_for_the_words_read_not_for_its_length(tiny_bundle):
    classifier = CountingClassifier.from_bundle(tiny_bundle)
    long_text = "liar " + varied(900)  # 5,000 characters; the model reads the first 126 tokens
    CountingClassifier.runs = 0

    (explanation,) = explain(classifier, [Item(text=long_text)])

    assert classifier.max_length - 3 <= explanation.text.words_read <= classifier.max_length
    assert explanation.text.words_explained == explanation.text.words_read
    assert CountingClassifier.runs == 1 + explanation.text.words_read  # the reference run + one per word read
    (span,) = explanation.text.harassing
    assert long_text[span.start : span.end] == "liar"
    assert explanation.note is None


def test_a_reply_with_a_long_parent_explains_only_the_parent_words_read(tiny_bundle):
    classifier = CountingClassifier.from_bundle(tiny_bundle)
    parent = "my manager " + varied(900)
    reply = "sure " + varied(900)
    CountingClassifier.runs = 0

    (explanation,) = explain(classifier, [Item(text=reply, parent_text=parent)])

    assert explanation.parent is not None  # the parent turned the reply harassing
    read = explanation.text.words_read + explanation.parent.words_read
    assert classifier.max_length - 3 <= read <= classifier.max_length  # the pair shares one window
    assert CountingClassifier.runs == 2 + read
    assert any(parent[s.start : s.end] == "manager" for s in explanation.parent.harassing)


def test_a_post_longer_than_the_budget_explains_its_most_influential_part_and_says_so(tiny_bundle):
    classifier = CountingClassifier.from_bundle(tiny_bundle)
    text = varied(40) + " liar " + varied(40)  # 81 words read
    CountingClassifier.runs = 0

    (explanation,) = explain(classifier, [Item(text=text)], budget=24)

    assert CountingClassifier.runs <= 24
    assert explanation.text.words_explained < explanation.text.words_read
    assert explanation.note is not None and "partial explanation" in explanation.note
    (span,) = explanation.text.harassing  # the passage that decides was found and explained word by word
    assert text[span.start : span.end] == "liar"


def test_variants_keep_no_tokenizer_overflow(tiny_bundle):
    from withyou.explain import Encoded, Occluder

    occluder = Occluder(Classifier.from_bundle(tiny_bundle), Item(text=varied(900), parent_text=varied(900)))

    assert isinstance(occluder.full, Encoded)
    assert all(isinstance(occluder.variant(i), Encoded) for i in occluder.read_words())


def test_a_post_and_parent_of_equal_length_cost_only_the_words_read(tiny_bundle):
    """Deleting a word past the window of a post as long as its parent still moves the truncation's split between
    them by a token; that word is not read and is not run (the probe's worst case: 5,000 + 5,000 characters)."""
    classifier = CountingClassifier.from_bundle(tiny_bundle)
    text = varied(1250)[:5000]
    CountingClassifier.runs = 0

    (explanation,) = explain(classifier, [Item(text=text, parent_text=text)])

    assert explanation.text.words_read <= classifier.max_length
    assert CountingClassifier.runs <= 2 + classifier.max_length


def test_the_start_of_a_clipped_tail_is_explained_when_the_model_reads_it(tiny_bundle):
    """A head of a few very long words leaves room in the window for the tail (the last 500 characters)."""
    classifier = KeywordClassifier.from_bundle(tiny_bundle)
    unknown_word = "abcdefghij" * 16  # one [UNK] token of 160 characters
    text = " ".join([unknown_word] * 14) + " filler" * 300 + " so liar " + "end " * 120

    (explanation,) = explain(classifier, [Item(text=text)])

    (span,) = explanation.text.harassing
    assert text[span.start : span.end] == "liar" and span.start > 4000


def test_a_budget_too_small_for_a_reply_and_its_parent_is_shared_between_them(tiny_bundle):
    classifier = CountingClassifier.from_bundle(tiny_bundle)
    item = Item(text="sure " + varied(60), parent_text="my manager " + varied(60))
    CountingClassifier.runs = 0

    (explanation,) = explain(classifier, [item], budget=24)

    assert CountingClassifier.runs <= 24
    assert explanation.parent is not None and explanation.note is not None
    assert 0 < explanation.text.words_explained < explanation.text.words_read
    assert 0 < explanation.parent.words_explained < explanation.parent.words_read
    assert any(item.text[s.start : s.end] == "sure" for s in explanation.text.harassing)
    assert any(item.parent_text[s.start : s.end] == "manager" for s in explanation.parent.harassing)


def test_every_word_of_a_short_post_is_read_including_the_last(tiny_bundle):
    classifier = KeywordClassifier.from_bundle(tiny_bundle)

    (explanation,) = explain(classifier, [Item(text="Sure you were, liar.", parent_text="what a day")])

    assert explanation.text.words_read == explanation.text.words_explained == 4
    (span,) = explanation.text.harassing
    assert span.start == 15  # "liar", the last word: deleting it leaves a prefix of the ids, and it is still read
