"""What language a post is in, and whether the model was trained on it.

Detector: py3langid (the maintained fork of langid.py), which ships its naive-Bayes model inside the wheel (no
download, no network) and needs only numpy. Picked over lingua by benchmarks/bench_language.py on the functional
suite's 431 short posts (README "Languages"): the same answers as lingua's high-accuracy mode where it matters
(0 of 371 English posts called another language; all French, Spanish, Hindi and Japanese ones caught) at 0.05 ms
instead of 1.6 ms per post and ~130 MB instead of ~1 GB of memory; lingua's low-accuracy mode is lighter but
called 12 English posts another language. Built once per process.

The detector reads what the post says, not how it is dressed (`detection_text`): the model's normalisation
(mathematical and full-width letters folded, invisible characters dropped, leet undone) and Cyrillic/Greek
look-alikes read as Latin in a Latin text (withyou.confusables). Otherwise "𝐬𝐥𝐮𝐭" is "no language" and
"уоu" Ukrainian, and an English post escapes the hide rule below by its typeface.

`lang` is an ISO 639-1 code, or "und" (`UNDETERMINED`) for a text without letters or in a language that has no
ISO 639-1 code (py3langid's few ISO 639-3 answers are mapped by `ISO_639_1`); `lang_confidence` is the
detector's normalised probability for it (0–1, 0 without letters). Short posts are where detection is unreliable
("ok", "same", "lol"), so a language counts as *unsupported* only when the detector is confident
(`MIN_CONFIDENCE`) and the text has at least `MIN_LETTERS` letters; anything less is treated as one of the bundle's
languages (the model answers as usual).

A post in an unsupported language may still hold parts in a supported one ("you stupid slut. みんな知ってる。"):
`served_text` gives those parts, and withyou.bundle.Classifier.predict lets the model judge them.

A bundle records its languages in metadata.json (`languages`, written at export); a bundle without the key was
trained on English only (`DEFAULT_LANGUAGES`).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from withyou.confusables import LOOKALIKES, read_lookalikes_as_latin
from withyou.encoding import normalize_text

DEFAULT_LANGUAGES = ("en",)
"""Languages assumed for a bundle whose metadata.json has no `languages` (all bundles before issue 14)."""
MIN_CONFIDENCE = 0.5
"""Below this detector confidence a post is treated as one of the bundle's languages."""
MIN_LETTERS = 12
"""Posts with fewer letters are treated as one of the bundle's languages, whatever the detector says."""
UNSUPPORTED_REASON = "language not supported by this model"
SERVED_PART_REASON = "hidden for a part in a language this model reads; the rest is in one it does not"
UNDETERMINED = "und"
"""ISO 639 "undetermined": no letters, or a language without an ISO 639-1 code."""

ISO_639_1 = {
    # a member of a macrolanguage that has an ISO 639-1 code
    "ary": "ar", "arz": "ar", "fuv": "ff", "gug": "gn", "kik": "ki", "ltg": "lv", "sdh": "ku", "uzs": "uz",
    "wuu": "zh", "yue": "zh",
    # no ISO 639-1 code (zxx: "no linguistic content")
    "ace": UNDETERMINED, "bcl": UNDETERMINED, "crh": UNDETERMINED, "ext": UNDETERMINED, "gcf": UNDETERMINED,
    "gcr": UNDETERMINED, "gom": UNDETERMINED, "grc": UNDETERMINED, "guw": UNDETERMINED, "hbo": UNDETERMINED,
    "kab": UNDETERMINED, "lij": UNDETERMINED, "nso": UNDETERMINED, "pcm": UNDETERMINED, "vec": UNDETERMINED,
    "zxx": UNDETERMINED,
}  # fmt: skip
"""py3langid 0.4's 26 answers that are not ISO 639-1 codes → the code `lang` carries (its other 114 are)."""

_PLACEHOLDERS = re.compile(r"\[url\]|@user")
_SENTENCE_BREAK = re.compile(r"\s*\n\s*|(?<=[.!?])\s+|(?<=[。！？।॥])\s*")
_LETTER_CATEGORIES = ("Lu", "Ll", "Lt", "Lo")
_JAPANESE_CHINESE = ("CJK", "HIRAGANA", "KATAKANA")


@dataclass(frozen=True)
class Detection:
    lang: str
    confidence: float


@cache
def detector() -> Any:
    """The process-wide py3langid identifier, with probabilities normalised to 0–1."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)


def to_iso_639_1(code: str) -> str:
    """A detector answer as an ISO 639-1 code, or "und" for one that has none."""
    return ISO_639_1.get(code, code if len(code) == 2 else UNDETERMINED)


def detection_text(text: str) -> str:
    """What the detector reads: withyou.encoding.normalize_text without its placeholders (`[url]`, `@user` are
    ours, not the writer's), with Latin look-alikes read as Latin when the text is Latin in disguise."""
    return read_lookalikes_as_latin(_PLACEHOLDERS.sub(" ", normalize_text(text)))


def detect(text: str) -> Detection:
    """The most likely language of `text` (ISO 639-1 or "und") and the detector's confidence in it."""
    readable = detection_text(text)
    if not any(char.isalpha() for char in readable):
        return Detection(UNDETERMINED, 0.0)
    lang, probability = detector().classify(readable)
    return Detection(to_iso_639_1(str(lang)), round(float(probability), 4))


def detect_many(texts: Sequence[str]) -> list[Detection]:
    return [detect(text) for text in texts]


def bundle_languages(metadata: dict[str, Any]) -> tuple[str, ...]:
    """The languages a bundle was trained on: metadata.json `languages`, or English for older bundles."""
    languages = metadata.get("languages")
    return tuple(languages) if languages else DEFAULT_LANGUAGES


def letter_count(text: str) -> int:
    return sum(char.isalpha() for char in text)


def is_supported(
    detection: Detection,
    text: str,
    languages: Iterable[str],
    *,
    min_confidence: float = MIN_CONFIDENCE,
    min_letters: int = MIN_LETTERS,
) -> bool:
    """False only when the detector is confident that a long-enough post is in a language the model lacks."""
    return detection.lang in set(languages) or not is_confident(detection, text, min_confidence, min_letters)


def is_served(
    detection: Detection,
    text: str,
    languages: Iterable[str],
    *,
    min_confidence: float = MIN_CONFIDENCE,
    min_letters: int = MIN_LETTERS,
) -> bool:
    """True only when the detector is confident that a long-enough text is in one of `languages`: the positive
    reading a part of a mixed post needs before it may decide (is_supported gives short or unsure text the
    benefit of the doubt; a part does not get it)."""
    return is_confident(detection, text, min_confidence, min_letters) and detection.lang in set(languages)


def is_confident(detection: Detection, text: str, min_confidence: float, min_letters: int) -> bool:
    """The detector is sure enough (`min_confidence`) of a text long enough (`min_letters`) to act on its answer."""
    return detection.confidence >= min_confidence and letter_count(text) >= min_letters


def script_of(char: str) -> str | None:
    """The script a letter is written in (first word of its Unicode name after NFKC; Japanese and Chinese scripts
    are one), or None for what joins any run: non-letters, marks, modifier letters and Latin look-alikes."""
    folded = unicodedata.normalize("NFKC", char)[:1]
    if unicodedata.category(folded) not in _LETTER_CATEGORIES or ord(folded) in LOOKALIKES:
        return None
    script = unicodedata.name(folded, "").split(" ")[0]
    return "CJK" if script in _JAPANESE_CHINESE else script


def script_runs(text: str) -> list[str]:
    """`text` cut where its letters change script; what lies between two runs stays with the first."""
    runs, start, current = [], 0, None
    for index, char in enumerate(text):
        script = script_of(char)
        if script is None or script == current:
            continue
        if current is not None:
            runs.append(text[start:index])
            start = index
        current = script
    runs.append(text[start:])
    return runs


def sentences(text: str) -> list[str]:
    """`text`'s lines and sentences; one too short to detect (under MIN_LETTERS letters: "Shut up, liar.") is
    joined to the next, the last to the one before."""
    merged: list[str] = []
    for piece in filter(str.strip, _SENTENCE_BREAK.split(text)):
        if merged and letter_count(merged[-1]) < MIN_LETTERS:
            merged[-1] += " " + piece
        else:
            merged.append(piece)
    if len(merged) > 1 and letter_count(merged[-1]) < MIN_LETTERS:
        last = merged.pop()
        merged[-1] += " " + last
    return merged


def split_parts(text: str) -> list[str]:
    """The parts a mixed-language post is judged by: its sentences, each cut again where the script changes
    ("you stupid slut みんな知ってる" is two parts). Same-script languages with no sentence break between them stay
    one part."""
    parts = [run.strip() for sentence in sentences(text) for run in script_runs(sentence)]
    return [part for part in parts if part]


def served_text(text: str, languages: Iterable[str]) -> str | None:
    """The parts of a post (`split_parts`) that are confidently in one of `languages` (`is_served`), joined in
    order; None when the post is one part or has no such part. For a post whose whole is detected as another
    language: the model can read these parts, so they may decide what happens to the post."""
    languages = set(languages)
    parts = split_parts(text)
    if len(parts) < 2:
        return None
    served = [part for part in parts if is_served(detect(part), part, languages)]
    return " ".join(served) or None


def language_counts(langs: Iterable[str | None]) -> dict[str, int]:
    """Posts per detected language, most frequent first ("und" for posts without letters) — for summaries such as
    `withyou score`'s."""
    return dict(Counter(lang or UNDETERMINED for lang in langs).most_common())
