"""Language detectors on short posts: accuracy per language and ms per post, on the functional suite's texts.

The functional suite (evaluation/functional/cases.jsonl) holds English cases and hand-written French, Spanish,
Hindi (Devanagari and romanised) and Japanese ones; every `text` and `parent_text` is one short post whose language
is known (`lang`, primary subtag = the ISO 639-1 code a detector should say). Compared: py3langid (what WithYou ships,
withyou/language.py) and lingua (lingua-language-detector) in its low- and high-accuracy modes, when installed.
`unsupported` applies withyou.language.is_supported for an English-only bundle: how many posts of each language
the policy would treat as out of the model's languages (English should be 0, the others all).

    python benchmarks/bench_language.py
"""

from __future__ import annotations

import json
import resource
import time
from collections import defaultdict
from pathlib import Path

from withyou.language import DEFAULT_LANGUAGES, Detection, is_supported

CASES = Path(__file__).resolve().parents[1] / "evaluation" / "functional" / "cases.jsonl"


def posts() -> list[tuple[str, str, str]]:
    """(tag, gold ISO 639-1, text) for every text and parent in the suite, deduplicated."""
    seen, out = set(), []
    for line in CASES.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        tag = case.get("lang", "en")
        for text in (case["text"], case["parent_text"]):
            if text and text not in seen:
                seen.add(text)
                out.append((tag, tag.split("-")[0], text))
    return out


def lingua_detector(low_accuracy: bool):
    def factory():
        from lingua import LanguageDetectorBuilder

        builder = LanguageDetectorBuilder.from_all_languages()
        detector = (builder.with_low_accuracy_mode() if low_accuracy else builder).build()

        def detect(text: str) -> Detection:
            values = detector.compute_language_confidence_values(text)
            if not values:
                return Detection(None, 0.0)
            return Detection(values[0].language.iso_code_639_1.name.lower(), values[0].value)

        return detect

    return factory


def shipped_detector():
    from withyou.language import detect

    return detect


def measure(name: str, factory) -> None:
    started = time.perf_counter()
    detect = factory()
    data = posts()
    detect(data[0][2])  # first call loads models
    loaded = time.perf_counter() - started
    correct, unsupported, total, times = defaultdict(int), defaultdict(int), defaultdict(int), []
    for tag, gold, text in data:
        t0 = time.perf_counter()
        detection = detect(text)
        times.append((time.perf_counter() - t0) * 1000)
        total[tag] += 1
        correct[tag] += detection.lang == gold
        unsupported[tag] += not is_supported(detection, text, DEFAULT_LANGUAGES)
    times.sort()
    per_tag = ", ".join(f"{tag} {correct[tag]}/{total[tag]}" for tag in sorted(total))
    per_tag_unsupported = ", ".join(f"{tag} {unsupported[tag]}/{total[tag]}" for tag in sorted(total))
    print(
        f"{name:11s} accuracy {sum(correct.values()) / len(data):.3f} ({per_tag}); unsupported ({per_tag_unsupported}); "
        f"p50 {times[len(times) // 2]:.2f} ms, p99 {times[int(len(times) * 0.99)]:.2f} ms per post; "
        f"load + first call {loaded:.2f} s; max RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    print(f"{len(posts())} short posts from {CASES.name}")
    # max RSS only grows: the detectors run smallest first, so each figure is an upper bound for that one
    measure("py3langid", shipped_detector)  # what withyou.language ships
    try:
        measure("lingua-low", lingua_detector(True))
        measure("lingua-high", lingua_detector(False))
    except ImportError:
        print("lingua-language-detector not installed: skipped (pip install lingua-language-detector)")
