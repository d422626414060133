"""Language detection and the unsupported-language policy: never hidden, reviewed when P(harassing) is high."""

from __future__ import annotations

import json

import pytest

from evaluation.evasion import cyrillic_lookalikes, full_width, leet, mathematical_bold, zero_width
from tests.keyword_bundle import write_keyword_bundle
from withyou.bundle import Classifier
from withyou.confusables import read_lookalikes_as_latin
from withyou.language import (
    DEFAULT_LANGUAGES,
    DETECTED_LANGUAGES,
    HINDI_LATIN,
    HINDI_LATIN_TEXTS,
    ISO_639_1,
    SERVED_PART_REASON,
    UNSUPPORTED_REASON,
    Detection,
    bundle_languages,
    detect,
    detector,
    is_served,
    is_supported,
    language_counts,
    reads,
    served_text,
    split_parts,
    to_iso_639_1,
)
from withyou.policy import Thresholds, decide_action

FRENCH = "Menteuse. Tu cherches juste de l'attention, personne ne te croit."
ENGLISH_ABUSE = "You stupid slut, nobody believes you."
JAPANESE = "今日はとても暑いですね、みなさん気をつけてください。"
RUSSIAN = "Я тебе верю. Ты ни в чём не виновата, и ты не одна."
ROMANISED_HINDI = "jhoothi hai tu, koi teri baat nahi maanta, slut"


@pytest.fixture(scope="module")
def keyword_bundle(tmp_path_factory):
    """P(harassing) 0.98 with "slut", "whore" or "liar" in the post, else 0.002; English (tests/keyword_bundle.py)."""
    return write_keyword_bundle(tmp_path_factory.mktemp("keyword") / "bundle")


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


def test_text_without_letters_is_undetermined():
    assert detect("!!! 123 :)") == Detection("und", 0.0)


def test_text_without_any_feature_of_the_detector_is_undetermined():
    detection = detect("ok")

    assert detection.lang == "und" and detection.confidence < 0.1


def test_every_detector_answer_becomes_an_iso_639_1_code_hi_latn_or_und():
    answers = set(detector().nb_classes)

    assert {code for code in answers if len(code) != 2} == set(ISO_639_1) | {HINDI_LATIN}
    assert all(len(to_iso_639_1(code)) == 2 or to_iso_639_1(code) in ("und", HINDI_LATIN) for code in answers)
    assert [to_iso_639_1(code) for code in ("zxx", "arz", "ary", HINDI_LATIN)] == ["und", "ar", "ar", HINDI_LATIN]


def test_the_detector_chooses_only_among_the_configured_languages_and_hi_latn():
    assert sorted(detector().nb_classes) == sorted([*DETECTED_LANGUAGES, HINDI_LATIN])
    assert {"oc", "sn", "an", "la", "eo", "pcm"}.isdisjoint(detector().nb_classes)


@pytest.mark.parametrize(
    "text, lang",
    [
        ("Je te crois. Tu n es pas seule.", "fr"),  # no apostrophe: Occitan among all 97 languages
        ("main bhi. mere boss ne mujhe pareshan kiya", HINDI_LATIN),  # Shona at 0.13 among all 97
        ("yaar usne bus mein galat tarike se chhua aur sab dekhte rahe", HINDI_LATIN),
        ("tum akeli nahi ho, hum sab tumhare saath hain", HINDI_LATIN),
        ("office wala senior roz raat ko message karta hai, kya karun?", HINDI_LATIN),
        ("Lo que te hizo no tiene perdón, y no estás sola en esto.", "es"),
    ],
)
def test_served_languages_are_no_longer_won_by_small_neighbours(text, lang):
    detection = detect(text)

    assert detection.lang == lang
    assert detection.confidence >= 0.5


@pytest.mark.parametrize(
    "text",
    [
        "I believe you, and none of this was your fault.",
        "what were you wearing tho",
        "Sure you were. Nobody buys this story.",
        "my manager cornered me in the stockroom and would not let me leave",
        "The company settled three harassment lawsuits last year.",
        "lol ok whatever you say",
    ],
)
def test_english_stays_english(text):
    detection = detect(text)

    assert detection.lang == "en"
    assert is_supported(detection, text, DEFAULT_LANGUAGES)


def test_hi_latn_is_estimated_from_a_json_array_of_sentences():
    sentences = json.loads(HINDI_LATIN_TEXTS.read_text(encoding="utf-8"))

    assert isinstance(sentences, list) and len(sentences) >= 200
    assert all(isinstance(sentence, str) and sentence.strip() for sentence in sentences)


def test_the_bento_and_the_package_ship_the_hi_latn_sentences():
    import fnmatch
    import tomllib

    import yaml

    from withyou.paths import REPO_ROOT

    shipped = str(HINDI_LATIN_TEXTS.relative_to(REPO_ROOT))
    bento = yaml.safe_load((REPO_ROOT / "bentofile.yaml").read_text(encoding="utf-8"))
    package_data = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert any(fnmatch.fnmatch(shipped, pattern) for pattern in bento["include"])
    assert not any(fnmatch.fnmatch(shipped, pattern) for pattern in bento.get("exclude", []))
    assert any(fnmatch.fnmatch(HINDI_LATIN_TEXTS.name, p) for p in package_data["package-data"]["*"])


def test_a_bundle_language_covers_its_script_variants_not_the_reverse():
    assert reads(["en", "hi"], HINDI_LATIN) and reads(["hi-Latn"], HINDI_LATIN)
    assert not reads(["en"], HINDI_LATIN) and not reads(["hi-Latn"], "hi")


def test_romanised_hindi_is_unsupported_for_an_english_bundle_and_supported_for_a_hindi_one():
    detection = detect(ROMANISED_HINDI)

    assert detection.lang == HINDI_LATIN
    assert not is_supported(detection, ROMANISED_HINDI, ["en"])
    assert is_supported(detection, ROMANISED_HINDI, ["en", "hi"])


def test_a_bundle_language_the_detector_never_answers_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"\['oc'\]"):
        bundle_languages({"languages": ["en", "oc"]})
    assert bundle_languages({"languages": ["en", "hi", HINDI_LATIN]}) == ("en", "hi", HINDI_LATIN)
    with pytest.raises(ValueError, match=r"\['oc'\]"):
        Classifier.from_bundle(write_keyword_bundle(tmp_path / "bundle", languages=("en", "oc")))


@pytest.mark.parametrize("disguise", [mathematical_bold, full_width, leet, cyrillic_lookalikes, zero_width])
def test_disguised_letters_are_detected_as_the_language_they_spell(disguise):
    detection = detect(disguise("Lying whore, you wanted it."))

    assert detection.lang == "en"
    assert detection.confidence >= 0.5


def test_lookalikes_are_read_as_latin_in_a_latin_text():
    assert read_lookalikes_as_latin(cyrillic_lookalikes(ENGLISH_ABUSE)) == ENGLISH_ABUSE


def test_a_russian_post_keeps_its_letters_and_is_russian():
    assert read_lookalikes_as_latin(RUSSIAN) == RUSSIAN
    assert detect(RUSSIAN).lang == "ru"


def test_a_russian_word_in_an_english_post_keeps_its_letters():
    assert read_lookalikes_as_latin("she called me сука again") == "she called me сука again"


def test_a_greek_post_is_greek():
    assert detect("Σε πιστεύω. Δεν φταις εσύ για τίποτα από αυτά.").lang == "el"


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


def test_prediction_of_an_unsupported_language_is_reviewed_with_the_reason(keyword_bundle):
    classifier = Classifier.from_bundle(keyword_bundle)
    hide_everything = Thresholds(review=0.0, hide=0.0)

    english, french = classifier.predict(
        [{"text": "You are a liar and everybody knows it, attention seeker."}, {"text": FRENCH}], hide_everything
    )

    assert (english.action, english.lang, english.reason) == ("hide", "en", None)
    assert (french.action, french.lang, french.reason) == ("review", "fr", UNSUPPORTED_REASON)


def test_bundle_that_lists_french_hides_french(tmp_path):
    bundle = write_keyword_bundle(tmp_path / "bundle", languages=("en", "fr"))

    (french,) = Classifier.from_bundle(bundle).predict([{"text": FRENCH}], Thresholds(review=0.0, hide=0.0))

    assert (french.action, french.reason) == ("hide", None)


def test_romanised_hindi_is_reviewed_by_an_english_bundle_and_hidden_by_a_hindi_one(keyword_bundle, tmp_path):
    hindi = write_keyword_bundle(tmp_path / "bundle", languages=("en", "hi"))
    hide_everything = Thresholds(review=0.0, hide=0.0)

    (english_model,) = Classifier.from_bundle(keyword_bundle).predict([{"text": ROMANISED_HINDI}], hide_everything)
    (hindi_model,) = Classifier.from_bundle(hindi).predict([{"text": ROMANISED_HINDI}], hide_everything)

    assert (english_model.action, english_model.lang) == ("review", HINDI_LATIN)
    assert english_model.reason == UNSUPPORTED_REASON
    assert (hindi_model.action, hindi_model.lang, hindi_model.reason) == ("hide", HINDI_LATIN, None)


def test_language_counts_most_frequent_first():
    assert language_counts(["en", "fr", "und", "en"]) == {"en": 2, "fr": 1, "und": 1}


def test_export_records_the_bundles_languages(tiny_random_bundle):
    metadata = json.loads((tiny_random_bundle / "metadata.json").read_text(encoding="utf-8"))

    assert metadata["languages"] == ["en"]


def test_a_post_splits_at_sentences_and_where_the_script_changes():
    assert split_parts(f"{ENGLISH_ABUSE} {JAPANESE}") == [ENGLISH_ABUSE, JAPANESE]
    assert split_parts("you stupid slut सब जानते हैं\nBonne soirée à tous, à demain.") == [
        "you stupid slut", "सब जानते हैं", "Bonne soirée à tous, à demain."]


def test_lookalikes_and_invisible_characters_do_not_split_a_word():
    disguised = zero_width(cyrillic_lookalikes(ENGLISH_ABUSE))

    assert split_parts(disguised) == [disguised]


def test_a_sentence_too_short_to_detect_joins_the_next():
    assert split_parts(f"Shut up, liar. You were asking for it. {JAPANESE}") == [
        "Shut up, liar. You were asking for it.", JAPANESE]


def test_served_text_is_the_parts_in_the_bundles_languages():
    assert served_text(f"{ENGLISH_ABUSE} {JAPANESE}", ["en"]) == ENGLISH_ABUSE
    assert served_text(f"{JAPANESE} {ENGLISH_ABUSE} {FRENCH}", ["en"]) == ENGLISH_ABUSE


def test_a_post_in_one_language_has_no_served_text():
    assert served_text(FRENCH, ["en"]) is None
    assert served_text(JAPANESE, ["en"]) is None


def test_a_part_must_be_confidently_in_a_served_language():
    assert not is_served(Detection("en", 0.3), "a long enough part in English", ["en"])
    assert not is_served(Detection("en", 0.99), "you slut", ["en"])
    assert is_served(Detection("en", 0.99), "you stupid slut", ["en"])


def test_a_harassing_english_part_hides_a_mixed_post(keyword_bundle):
    (mixed,) = Classifier.from_bundle(keyword_bundle).predict([{"text": f"{ENGLISH_ABUSE} {JAPANESE}"}])

    assert (mixed.action, mixed.lang, mixed.reason, mixed.label) == ("hide", "ja", SERVED_PART_REASON, "harassing")


def test_a_harmless_english_part_leaves_a_mixed_post_to_the_unsupported_rule(keyword_bundle):
    text = f"I believe you and it was not your fault. {FRENCH} Quelle slut, elle ment."

    (mixed,) = Classifier.from_bundle(keyword_bundle).predict([{"text": text}])

    assert (mixed.action, mixed.lang, mixed.reason) == ("review", "fr", UNSUPPORTED_REASON)


def test_posts_in_one_language_cost_one_model_run(keyword_bundle, monkeypatch):
    classifier = Classifier.from_bundle(keyword_bundle)
    runs, logits = [], classifier.logits

    def counted(texts, parent_texts=None):
        runs.append(len(texts))
        return logits(texts, parent_texts)

    monkeypatch.setattr(classifier, "logits", counted)  # one call = one model run over its posts

    classifier.predict([{"text": ENGLISH_ABUSE}, {"text": FRENCH}, {"text": JAPANESE}])
    classifier.predict([{"text": f"{ENGLISH_ABUSE} {JAPANESE}"}, {"text": FRENCH}])

    assert runs == [3, 2, 1]


def test_a_post_without_letters_answers_und(keyword_bundle):
    (answer,) = Classifier.from_bundle(keyword_bundle).predict([{"text": "!!! 123"}])

    assert (answer.lang, answer.lang_confidence, answer.action) == ("und", 0.0, "allow")
