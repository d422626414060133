"""Language detection and the unsupported-language policy: never hidden, reviewed when P(harassing) is high."""

from __future__ import annotations

import json

import pytest

from withyou.bundle import Classifier
from withyou.language import (
    DEFAULT_LANGUAGES,
    UNSUPPORTED_REASON,
    Detection,
    bundle_languages,
    detect,
    is_supported,
    language_counts,
)
from withyou.policy import Thresholds, decide_action

FRENCH = "Menteuse. Tu cherches juste de l'attention, personne ne te croit."


@pytest.mark.parametrize(
    "text, lang",
    [
        ("I believe you, and none of this was your fault.", "en"),
        (FRENCH, "fr"),
        ("Te creo. Lo que te hizo no fue culpa tuya y no estás sola.", "es"),
        ("मैं तुम पर विश्वास करती हूँ। इसमें तुम्हारी कोई गलती नहीं है।", "hi"),
        ("話してくれてありがとう。あなたは何も悪くないよ。", "ja"),
    ],
)
def test_detects_the_functional_suites_languages(text, lang):
    detection = detect(text)

    assert detection.lang == lang
    assert 0.5 <= detection.confidence <= 1.0


def test_text_without_letters_has_no_language():
    assert detect("!!! 123 :)") == Detection(None, 0.0)


def test_confident_detection_of_a_language_the_bundle_lacks_is_unsupported():
    assert not is_supported(detect(FRENCH), FRENCH, ["en"])
    assert is_supported(detect(FRENCH), FRENCH, ["en", "fr"])


def test_very_short_text_counts_as_the_bundles_language_whatever_the_detector_says():
    assert not is_supported(Detection("fr", 0.99), "une phrase assez longue", ["en"])
    assert is_supported(Detection("fr", 0.99), "oui oui", ["en"])


def test_unsure_detection_counts_as_the_bundles_language():
    assert is_supported(Detection("fr", 0.3), "a long enough post in some language", ["en"])


def test_bundle_without_languages_is_english_only():
    assert bundle_languages({}) == DEFAULT_LANGUAGES == ("en",)
    assert bundle_languages({"languages": ["en", "fr"]}) == ("en", "fr")


def test_unsupported_language_is_never_hidden():
    thresholds = Thresholds(review=0.3, hide=0.8)

    assert decide_action(0.99, thresholds) == "hide"
    assert decide_action(0.99, thresholds, supported_language=False) == "review"


def test_unsupported_language_below_the_review_threshold_is_allowed():
    assert decide_action(0.1, Thresholds(review=0.3, hide=0.8), supported_language=False) == "allow"


def test_prediction_of_an_unsupported_language_is_reviewed_with_the_reason(tiny_bundle):
    classifier = Classifier.from_bundle(tiny_bundle)
    hide_everything = Thresholds(review=0.0, hide=0.0)

    english, french = classifier.predict(
        [{"text": "You are a liar and everybody knows it, attention seeker."}, {"text": FRENCH}], hide_everything
    )

    assert (english.action, english.lang, english.reason) == ("hide", "en", None)
    assert (french.action, french.lang, french.reason) == ("review", "fr", UNSUPPORTED_REASON)


def test_bundle_that_lists_french_hides_french(tiny_bundle, tmp_path):
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    metadata = json.loads((bundle / "metadata.json").read_text())
    (bundle / "metadata.json").write_text(json.dumps({**metadata, "languages": ["en", "fr"]}))

    (french,) = Classifier.from_bundle(bundle).predict([{"text": FRENCH}], Thresholds(review=0.0, hide=0.0))

    assert (french.action, french.reason) == ("hide", None)


def test_language_counts_most_frequent_first():
    assert language_counts(["en", "fr", None, "en"]) == {"en": 2, "fr": 1, "und": 1}


def test_export_records_the_bundles_languages(tiny_bundle):
    metadata = json.loads((tiny_bundle / "metadata.json").read_text(encoding="utf-8"))

    assert metadata["languages"] == ["en"]
