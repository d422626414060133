"""The evasion catalogue as a standing test: a post the model hides stays hidden in disguise or with a sentence
in another language appended, and a post really written in another language is still never hidden."""

from __future__ import annotations

import pytest

from evaluation.evasion import BASE_POSTS, FOREIGN_POSTS, evasion_cases
from tests.keyword_bundle import write_keyword_bundle
from withyou.bundle import Classifier
from withyou.language import UNSUPPORTED_REASON


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """P(harassing) 0.98 with "slut", "whore" or "liar" in the post, else 0.002; English (tests/keyword_bundle.py)."""
    return Classifier.from_bundle(write_keyword_bundle(tmp_path_factory.mktemp("keyword") / "bundle"))


def test_the_catalogues_base_posts_are_hidden(classifier):
    assert [p.action for p in classifier.predict([{"text": text} for text in BASE_POSTS])] == ["hide"] * len(BASE_POSTS)


def test_no_variant_of_a_hidden_post_falls_below_hide(classifier):
    cases = evasion_cases()

    predictions = classifier.predict([{"text": text} for _, _, text in cases])

    below_hide = [(name, base, p.action, p.lang, p.reason) for (base, name, _), p in zip(cases, predictions)
                  if p.action != "hide"]  # fmt: skip
    assert below_hide == []


def test_posts_really_in_another_language_are_never_hidden(classifier):
    predictions = classifier.predict([{"text": text} for text in FOREIGN_POSTS.values()])

    assert [(p.action != "hide", p.reason) for p in predictions] == [(True, UNSUPPORTED_REASON)] * len(FOREIGN_POSTS)
    assert predictions[list(FOREIGN_POSTS).index("French, abusive with an English slur")].action == "review"
