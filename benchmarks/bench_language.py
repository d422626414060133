"""Language detectors on short posts: accuracy per language and ms per post, on the project's multilingual cases.

The posts: every `text` and `parent_text` of the functional suites (evaluation/functional/cases.jsonl, English plus
8 cases per language, and cases_<lang>.jsonl) and of the seed corpus per language (datasets/seed/lang/<lang>.jsonl),
each tagged with its file's or case's `lang` (fr, es, hi, hi-Latn, ja; en by default), deduplicated. Compared:
py3langid choosing among all its languages (what WithYou shipped before issue 19), the shipped detector
(withyou/language.py: a chosen set of languages plus hi-Latn), and lingua (lingua-language-detector) in its low- and
high-accuracy modes when installed. A detection is right when it equals the tag. `≥12 letters` counts only posts long
enough for the policy to act on their language (withyou.language.MIN_LETTERS). `English posts called another` counts
English posts the policy would treat as another language (confident, long enough), and `unsupported` applies
withyou.language.is_supported for an English-only bundle per language (English should be 0, the others all).

    python benchmarks/bench_language.py
"""

from __future__ import annotations

import json
import resource
import time
from collections import defaultdict
from pathlib import Path

from withyou.language import (
    DEFAULT_LANGUAGES,
    MIN_LETTERS,
    Detection,
    detection_text,
    is_confident,
    is_supported,
    letter_count,
    to_iso_639_1,
)

ROOT = Path(__file__).resolve().parents[1]
CASE_FILES = sorted((ROOT / "evaluation" / "functional").glob("cases*.jsonl")) + sorted(
    (ROOT / "datasets" / "seed" / "lang").glob("*.jsonl")
)


def posts() -> list[tuple[str, str]]:
    """(language tag, text) for every text and parent in CASE_FILES, deduplicated."""
    seen, out = set(), []
    for path in CASE_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            tag = case.get("lang") or "en"
            for text in (case["text"], case.get("parent_text")):
                if text and text not in seen:
                    seen.add(text)
                    out.append((tag, text))
    return out


def all_languages_detector():
    """py3langid over all its languages, on the normalised text (withyou.language before issue 19)."""
    from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier

    identifier = LanguageIdentifier.from_modelpath(MODEL_DIR / MODEL_FILE, norm_probs=True)

    def detect(text: str) -> Detection:
        readable = detection_text(text)
        if not any(char.isalpha() for char in readable):
            return Detection("und", 0.0)
        lang, probability = identifier.classify(readable)
        return Detection(to_iso_639_1(str(lang)), float(probability))

    return detect


def shipped_detector():
    from withyou.language import detect

    return detect


def lingua_detector(low_accuracy: bool):
    def factory():
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages()
        detector = (builder.with_low_accuracy_mode() if low_accuracy else builder).build()

        def detect(text: str) -> Detection:
            values = detector.compute_language_confidence_values(text)
            if not values:
                return Detection("und", 0.0)
            return Detection(values[0].language.iso_code_639_1.name.lower(), values[0].value)

        return detect

    return factory


def measure(name: str, factory) -> None:
    started = time.perf_counter()
    detect = factory()
    data = posts()
    detect(data[0][1])  # first call loads the model
    loaded = time.perf_counter() - started
    correct, total, long_correct, long_total, unsupported = (defaultdict(int) for _ in range(5))
    english_called_other, times = 0, []
    for tag, text in data:
        t0 = time.perf_counter()
        detection = detect(text)
        times.append((time.perf_counter() - t0) * 1000)
        total[tag] += 1
        correct[tag] += detection.lang == tag
        if letter_count(text) >= MIN_LETTERS:
            long_total[tag] += 1
            long_correct[tag] += detection.lang == tag
        unsupported[tag] += not is_supported(detection, text, DEFAULT_LANGUAGES)
        english_called_other += tag == "en" and detection.lang != "en" and is_confident(detection, text, 0.5, 12)
    times.sort()
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{name}: accuracy {sum(correct.values()) / len(data):.3f} ({len(data)} posts); "
          f"English posts called another language {english_called_other}/{total['en']}; "
          f"p50 {times[len(times) // 2]:.3f} ms, p99 {times[int(len(times) * 0.99)]:.3f} ms per post; "
          f"load + first call {loaded:.2f} s; max RSS so far {rss_mb:.0f} MB")
    for tag in sorted(total):
        print(f"  {tag:8s} {correct[tag]:4d}/{total[tag]:<4d} ({correct[tag] / total[tag]:.3f})   "
              f"≥{MIN_LETTERS} letters {long_correct[tag]:4d}/{long_total[tag]:<4d} "
              f"({long_correct[tag] / max(1, long_total[tag]):.3f})   unsupported for an English bundle "
              f"{unsupported[tag]}/{total[tag]}")


if __name__ == "__main__":
    print(f"{len(posts())} short posts from {', '.join(str(p.relative_to(ROOT)) for p in CASE_FILES)}")
    # max RSS only grows: the detectors run smallest first, so each figure is an upper bound for that one
    measure("py3langid, all languages (before issue 19)", all_languages_detector)
    measure("shipped: chosen languages + hi-Latn", shipped_detector)
    try:
        measure("lingua-low", lingua_detector(True))
        measure("lingua-high", lingua_detector(False))
    except ImportError:
        print("lingua-language-detector not installed: skipped (pip install lingua-language-detector)")
