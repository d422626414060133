"""What language a post is in, and whether the model was trained on it.

Detector: py3langid (the maintained fork of langid.py, 97 languages), which ships its naive-Bayes model inside
the wheel (no download, no network) and needs only numpy. Picked over lingua by benchmarks/bench_language.py on
the functional suite's 431 short posts (README "Languages"): the same answers as lingua's high-accuracy mode where
it matters (0 of 371 English posts called another language; all French, Spanish, Hindi and Japanese ones caught)
at 0.05 ms instead of 1.6 ms per post and ~130 MB instead of ~1 GB of memory; lingua's low-accuracy mode is
lighter but called 12 English posts another language. Built once per process.

`lang` is an ISO 639-1 code, `lang_confidence` the detector's normalised probability for it (0–1).
Short posts are where detection is unreliable ("ok", "same", "lol"), so a language counts as *unsupported* only
when the detector is confident (`MIN_CONFIDENCE`) and the text has at least `MIN_LETTERS` letters; anything less
is treated as one of the bundle's languages (the model answers as usual). A text with no letters at all gets
`lang` None and confidence 0.

A bundle records its languages in metadata.json (`languages`, written at export); a bundle without the key was
trained on English only (`DEFAULT_LANGUAGES`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

DEFAULT_LANGUAGES = ("en",)
"""Languages assumed for a bundle whose metadata.json has no `languages` (all bundles before issue 14)."""
MIN_CONFIDENCE = 0.5
"""Below this detector confidence a post is treated as one of the bundle's languages."""
MIN_LETTERS = 12
"""Posts with fewer letters are treated as one of the bundle's languages, whatever the detector says."""
UNSUPPORTED_REASON = "language not supported by this model"


@dataclass(frozen=True)
class Detection:
    lang: str | None
    confidence: float


@cache
def detector() -> Any:
    """The process-wide py3langid identifier, with probabilities normalised to 0–1."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def detect(text: str) -> Detection:
    """The most likely language of `text` (ISO 639-1) and the detector's confidence in it."""
    if not any(char.isalpha() for char in text):
        return Detection(None, 0.0)
    lang, probability = detector().classify(text)
    return Detection(str(lang), round(float(probability), 4))


def detect_many(texts: Sequence[str]) -> list[Detection]:
    return [detect(text) for text in texts]


def bundle_languages(metadata: dict[str, Any]) -> tuple[str, ...]:
    """The languages a bundle was trained on: metadata.json `languages`, or English for older bundles."""
    languages = metadata.get("languages")
    return tuple(languages) if languages else DEFAULT_LANGUAGES


def is_supported(
    detection: Detection,
    text: str,
    languages: Iterable[str],
    *,
    min_confidence: float = MIN_CONFIDENCE,
    min_letters: int = MIN_LETTERS,
) -> bool:
    """False only when the detector is confident that a long-enough post is in a language the model lacks."""
    if detection.lang is None or detection.lang in set(languages):
        return True
    if detection.confidence < min_confidence:
        return True
    return sum(char.isalpha() for char in text) < min_letters


def language_counts(langs: Iterable[str | None]) -> dict[str, int]:
    """Posts per detected language, most frequent first ("und" for posts without letters) — for summaries such as
    `withyou score`'s."""
    return dict(Counter(lang or "und" for lang in langs).most_common())
