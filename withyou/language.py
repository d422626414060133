"""What language a post is in, and whether the model was trained on it.

Detector: py3langid (the maintained fork of langid.py), which ships its naive-Bayes model inside the wheel (no
download, no network) and needs only numpy. Picked over lingua by benchmarks/bench_language.py on the functional
suite's 431 short posts (README "Languages"): the same answers as lingua's high-accuracy mode where it matters
(0 of 371 English posts called another language; all French, Spanish, Hindi and Japanese ones caught) at 0.05 ms
instead of 1.6 ms per post and ~130 MB instead of ~1 GB of memory; lingua's low-accuracy mode is lighter but
called 12 English posts another language. Built once per process.

It chooses among the languages that matter (`DETECTED_LANGUAGES`), not py3langid's 97: with all of them, short
posts in the languages WithYou serves were won by small neighbours ("Je te crois. Tu n es pas seule." was Occitan,
"main bhi. mere boss ne mujhe pareshan kiya" Shona, which at 0.13 confidence then counted as English). The set:
- the languages a bundle lists or is planned to (issue 19): en, fr, es, hi, ja, and pt and ar, which public data
  covers;
- neighbours, so that a post in them is still recognised as *another* language instead of being read as a served
  one: the widely used languages that share a script with a served one (Latin: de, it, nl, ca, pl, cs, ro, hu, sv,
  da, no, fi, tr, id, ms, tl, vi, sw; Devanagari: mr, ne; Arabic script: fa, ur, and Egyptian and Moroccan Arabic,
  answered as ar; Han: zh), and the main language of each other major script (ru, uk, bg, el, he, th, ko, bn, pa,
  gu, ta, te, kn, ml);
- `zxx` (no linguistic content, answered "und").
Left out: py3langid's regional, historical, constructed and small languages (Occitan, Aragonese, Latin, Esperanto,
Walloon, Shona, Nigerian Pidgin, …), which won short posts in served languages and in English. Probabilities are
normalised over the set, so a post in a left-out language goes to its nearest neighbour in it. A bundle may list
only languages of the set, or hi-Latn (`bundle_languages` refuses others: the detector would never answer them).
Per-language accuracy before and after, and the English path: serving/README.md "Languages"
(benchmarks/bench_language.py).

Romanised Hindi and Hinglish (`HINDI_LATIN`, "hi-Latn") is a class of its own, added to py3langid's model: its
byte n-gram probabilities are estimated from sentences written for it (language_hi_latn.json, a JSON array of 276
original sentences: daily life, work, transit, family, disclosures, support and abuse, code-mixed with English and
in the usual spellings), interpolated with English's (`HINDI_LATIN_MIX`) because Hinglish borrows English words,
with English's prior. Computed when the detector is built, from text: no pickle, no torch.

The detector reads what the post says, not how it is dressed (`detection_text`): the model's normalisation
(mathematical and full-width letters folded, invisible characters dropped, leet undone) and Cyrillic/Greek
look-alikes read as Latin in a Latin text (withyou.confusables). Otherwise "𝐬𝐥𝐮𝐭" is "no language" and
"уоu" Ukrainian, and an English post escapes the hide rule below by its typeface.

`lang` is an ISO 639-1 code, "hi-Latn" (BCP 47: Hindi in Latin script), or "und" (`UNDETERMINED`) for a text
without letters or without linguistic content (py3langid's ISO 639-3 answers are mapped by `ISO_639_1`);
`lang_confidence` is the detector's normalised probability for it (0–1, 0 without letters). Short posts are where
detection is unreliable ("ok", "same", "lol"), so a language counts as *unsupported* only when the detector is
confident (`MIN_CONFIDENCE`) and the text has at least `MIN_LETTERS` letters; anything less is treated as one of the
bundle's languages (the model answers as usual). A bundle language covers its script variants: a bundle listing
"hi" serves "hi-Latn" posts too; one listing only "hi-Latn" does not serve Devanagari (`reads`).

A post in an unsupported language may still hold parts in a supported one ("you stupid slut. みんな知ってる。"):
`served_text` gives those parts, and withyou.bundle.Classifier.predict lets the model judge them.

A bundle records its languages in metadata.json (`languages`, written at export); a bundle without the key was
trained on English only (`DEFAULT_LANGUAGES`).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
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
"""ISO 639 "undetermined": no letters, or no linguistic content."""
HINDI_LATIN = "hi-Latn"
"""Hindi written in Latin letters, Hinglish included: the detector's class beside py3langid's."""
DETECTED_LANGUAGES = (
    # served or planned (a bundle may list only codes in this tuple, or HINDI_LATIN)
    "en", "fr", "es", "hi", "ja", "pt", "ar",
    # neighbours sharing a script with a served language
    "de", "it", "nl", "ca", "pl", "cs", "ro", "hu", "sv", "da", "no", "fi", "tr", "id", "ms", "tl", "vi", "sw",
    "mr", "ne", "fa", "ur", "arz", "ary", "zh",
    # the main language of each other major script
    "ru", "uk", "bg", "el", "he", "th", "ko", "bn", "pa", "gu", "ta", "te", "kn", "ml",
    # no linguistic content
    "zxx",
)  # fmt: skip
"""py3langid's classes the detector chooses among (module docstring), HINDI_LATIN added to them."""
SERVABLE_LANGUAGES = (*(code for code in DETECTED_LANGUAGES if len(code) == 2), HINDI_LATIN)
"""The codes a bundle may list in `languages`: the detector's ISO 639-1 answers and hi-Latn (not its dialect
classes nor "no linguistic content"); training lists no other (training.dataset.trained_languages)."""
HINDI_LATIN_TEXTS = Path(__file__).with_name("language_hi_latn.json")
"""The sentences (a JSON array of strings) the hi-Latn class is estimated from."""
HINDI_LATIN_MIX = 0.9
"""Weight of the hi-Latn sentences' n-gram distribution against English's in the hi-Latn class (1 - it: English).
Chosen with 236 of the sentences, on the other 40 (hi-Latn at ≥ 0.5 confidence: 39 at 0.5, 40 at 0.7 to 0.95)
against English posts of ≥ 12 letters confidently called hi-Latn, of 3,000 EDOS Reddit/Gab posts + 2,501
ConvAbuse chatbot messages: 13 + 14 at 0.5, 3 + 3 at 0.7, 0 + 1 at 0.85 and 0.9, 0 + 0 at 0.95 — and French and
Portuguese tweets called hi-Latn (MLMA 4,014, ToLD-Br 3,000; mostly slang abbreviations at low confidence): 8 + 11
at 0.9, 8 + 10 at 0.95. 0.9 keeps a margin for the recall of other writers' Hinglish."""
HINDI_LATIN_SMOOTHING = 0.1
"""Additive smoothing of the hi-Latn sentences' n-gram counts."""

ISO_639_1 = {"ary": "ar", "arz": "ar", "zxx": UNDETERMINED}
"""The detector's answers that are not ISO 639-1 codes (Moroccan and Egyptian Arabic; "no linguistic content") →
the code `lang` carries."""

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
    """The process-wide py3langid identifier over DETECTED_LANGUAGES and HINDI_LATIN, with probabilities normalised
    to 0–1 over them. `zxx` comes first: a text with none of py3langid's features ("ok") scores every language
    alike, and the first one wins — "no linguistic content", answered "und"."""
    import numpy as np
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
    from py3langid.modelio import load_model

    log_p_feature, prior, classes, nextmove, row, output = load_model(MODEL_DIR / MODEL_FILE)
    kept = sorted((index for index, code in enumerate(classes) if code in DETECTED_LANGUAGES),
                  key=lambda index: classes[index] != "zxx")
    if missing := set(DETECTED_LANGUAGES) - {classes[index] for index in kept}:
        raise RuntimeError(f"py3langid's model lacks {sorted(missing)}: withyou.language needs py3langid 0.4")
    english = classes.index("en")
    hindi_latin = hindi_latin_log_probabilities(log_p_feature[:, english], nextmove, row, output)
    table = np.hstack([log_p_feature[:, kept], hindi_latin[:, None].astype(log_p_feature.dtype)])
    priors = np.append(prior[kept], prior[english])
    names = [classes[index] for index in kept] + [HINDI_LATIN]
    return LanguageIdentifier(table, priors, names, nextmove, output, norm_probs=True, tk_row=row)


def hindi_latin_log_probabilities(english: Any, nextmove: Any, row: Any, output: Any) -> Any:
    """log P(feature | hi-Latn) for each of py3langid's byte n-gram features: the smoothed feature counts of
    HINDI_LATIN_TEXTS (read as the detector reads a post), mixed with English's P(feature) by HINDI_LATIN_MIX."""
    import numpy as np
    from py3langid.langid import visit_counts

    counts = np.zeros(len(english))
    rowbase = [state << 8 for state in row]
    for sentence in json.loads(HINDI_LATIN_TEXTS.read_text(encoding="utf-8")):
        encoded = unicodedata.normalize("NFC", detection_text(sentence)).encode("utf-8")
        for feature, n in (visit_counts(nextmove, rowbase, output, encoded) or {}).items():
            counts[feature] += n
    own = (counts + HINDI_LATIN_SMOOTHING) / (counts.sum() + HINDI_LATIN_SMOOTHING * len(counts))
    return np.log(HINDI_LATIN_MIX * own + (1 - HINDI_LATIN_MIX) * np.exp(english.astype(np.float64)))


def to_iso_639_1(code: str) -> str:
    """A detector answer as the code `lang` carries: ISO 639-1, HINDI_LATIN, or "und" for one that has neither."""
    return ISO_639_1.get(code, code if len(code) == 2 or code == HINDI_LATIN else UNDETERMINED)


def reads(languages: Iterable[str], lang: str) -> bool:
    """True when a bundle listing `languages` reads posts in `lang`: listed itself, or its primary language is
    ("hi" covers "hi-Latn")."""
    listed = set(languages)
    return lang in listed or lang.split("-")[0] in listed


def detection_text(text: str) -> str:
    """What the detector reads: withyou.encoding.normalize_text without its placeholders (`[url]`, `@user` are
    ours, not the writer's), with Latin look-alikes read as Latin when the text is Latin in disguise."""
    return read_lookalikes_as_latin(_PLACEHOLDERS.sub(" ", normalize_text(text)))


def detect(text: str) -> Detection:
    """The most likely language of `text` (ISO 639-1, "hi-Latn" or "und") and the detector's confidence in it."""
    readable = detection_text(text)
    if not any(char.isalpha() for char in readable):
        return Detection(UNDETERMINED, 0.0)
    lang, probability = detector().classify(readable)
    return Detection(to_iso_639_1(str(lang)), round(float(probability), 4))


def detect_many(texts: Sequence[str]) -> list[Detection]:
    return [detect(text) for text in texts]


def bundle_languages(metadata: dict[str, Any]) -> tuple[str, ...]:
    """The languages a bundle was trained on: metadata.json `languages`, or English for older bundles. A language
    the detector never answers could never be served: it is refused here, naming it."""
    languages = tuple(metadata.get("languages") or DEFAULT_LANGUAGES)
    if unknown := [code for code in languages if code not in (*DETECTED_LANGUAGES, HINDI_LATIN)]:
        raise ValueError(f"metadata.json languages {unknown}: the language detector answers only "
                         f"{', '.join((*DETECTED_LANGUAGES, HINDI_LATIN))} (withyou/language.py DETECTED_LANGUAGES)")
    return languages


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
    return reads(languages, detection.lang) or not is_confident(detection, text, min_confidence, min_letters)


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
    return is_confident(detection, text, min_confidence, min_letters) and reads(languages, detection.lang)


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
    languages = tuple(languages)
    parts = split_parts(text)
    if len(parts) < 2:
        return None
    served = [part for part in parts if is_served(detect(part), part, languages)]
    return " ".join(served) or None


def language_counts(langs: Iterable[str | None]) -> dict[str, int]:
    """Posts per detected language, most frequent first ("und" for posts without letters) — for summaries such as
    `withyou score`'s."""
    return dict(Counter(lang or UNDETERMINED for lang in langs).most_common())
