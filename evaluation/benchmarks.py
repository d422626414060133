"""Real-text benchmarks: how a model reads public text that nobody on the project wrote.

The data are official held-out splits that `withyou data build` sets aside in `<dataset>/benchmarks/<source>.jsonl`
(adapters tag them `benchmark`; build never trains on them and drops any training row that repeats one):

- `edos` — EDOS dev (Reddit and Gab posts, sexist vs not): harassing-vs-rest macro-F1.
- `misogyny_reddit` — the misogyny set's own test split (Reddit posts and replies, each reply read under the post
  it answers): harassing-vs-rest macro-F1.
- `crowdcounter` — CrowdCounter Test: counter-speech (replies arguing against a hate post, read under it) labelled
  harassing / supportive / sent to review, and hate posts caught (labelled harassing).

Every model is graded the same way from a `score(texts, parent_texts) -> probabilities [n, 4]` function in LABELS
order: the transformer (calibrated), the TF-IDF baseline, and alt-profanity-check (`profanity_probs`: it has one
label, so P(profane) stands for harassing and the rest for neutral). "Labelled X" is the argmax label.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, f1_score

from evaluation.metrics import HARASSING
from withyou.labels import LABELS
from withyou.records import Record, read_jsonl

Scorer = Callable[[Sequence[str], Sequence[str | None]], np.ndarray]
SUPPORTIVE = LABELS.index("supportive")
BENCHMARKS_DIR = "benchmarks"

TITLES = {
    "edos": "EDOS dev — sexist vs not (Reddit, Gab)",
    "misogyny_reddit": "Misogyny test split — Reddit threads, replies read with their parent",
    "crowdcounter": "CrowdCounter Test — counter-speech under hate posts, and the hate posts",
}


def load_benchmarks(dataset_dir: Path) -> dict[str, list[Record]]:
    """The held-out benchmark records of a built dataset, by source (empty when the build had no public data)."""
    folder = Path(dataset_dir) / BENCHMARKS_DIR
    if not folder.is_dir():
        return {}
    return {path.stem: read_jsonl(path) for path in sorted(folder.glob("*.jsonl"))}


def profanity_probs(texts: Sequence[str], parent_texts: Sequence[str | None]) -> np.ndarray:
    """alt-profanity-check as a 4-label scorer: P(profane) as harassing, the rest as neutral (it reads no parent)."""
    from evaluation.peers import profanity_scores

    p = profanity_scores(list(texts))
    probs = np.zeros((len(p), len(LABELS)))
    probs[:, HARASSING] = p
    probs[:, LABELS.index("neutral")] = 1.0 - p
    return probs


def harassing_vs_rest(records: Sequence[Record], probs: np.ndarray) -> dict:
    """Binary harassing-vs-rest from the argmax label: macro-F1 over the two classes, harassing F1, PR-AUC."""
    truth = np.array([r.label == "harassing" for r in records])
    predicted = probs.argmax(axis=1) == HARASSING
    return {
        "n": len(records),
        "positives": int(truth.sum()),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
        "harassing_f1": float(f1_score(truth, predicted, zero_division=0)),
        "predicted_harassing_rate": float(predicted.mean()) if len(records) else None,
        "pr_auc": float(average_precision_score(truth, probs[:, HARASSING])) if 0 < truth.sum() < len(truth) else None,
    }


def _rate(mask: np.ndarray) -> float | None:
    return float(mask.mean()) if mask.size else None


def counter_speech(records: Sequence[Record], probs: np.ndarray, probs_without_parent: np.ndarray,
                   review_threshold: float | None) -> dict:
    """Counter-speech (supportive rows, read under their hate post) and hate posts (harassing rows)."""
    labels = np.array([r.label for r in records])
    replies, hate = labels == "supportive", labels == "harassing"
    predicted = probs.argmax(axis=1)
    section = {
        "n_counter_speech": int(replies.sum()),
        "n_hate": int(hate.sum()),
        "counter_speech_harassing_rate": _rate(predicted[replies] == HARASSING),
        "counter_speech_supportive_rate": _rate(predicted[replies] == SUPPORTIVE),
        "counter_speech_harassing_rate_without_parent": _rate(probs_without_parent.argmax(axis=1)[replies] == HARASSING),
        "hate_caught_rate": _rate(predicted[hate] == HARASSING),
        "counter_speech_review_rate": None,
        "hate_review_rate": None,
    }
    if review_threshold is not None:
        section["counter_speech_review_rate"] = _rate(probs[replies, HARASSING] >= review_threshold)
        section["hate_review_rate"] = _rate(probs[hate, HARASSING] >= review_threshold)
    return section


def score_benchmark(name: str, records: Sequence[Record], score: Scorer, review_threshold: float | None) -> dict:
    """One benchmark for one model; the shape depends on the benchmark (module docstring)."""
    texts, parents = [r.text for r in records], [r.parent_text for r in records]
    probs = score(texts, parents)
    if name == "crowdcounter":
        without = probs.copy()  # a post read without its parent: only the replies need scoring again
        replies = [i for i, parent in enumerate(parents) if parent is not None]
        if replies:
            without[replies] = score([texts[i] for i in replies], [None] * len(replies))
        return {"title": TITLES[name], **counter_speech(records, probs, without, review_threshold)}
    return {"title": TITLES.get(name, name), "with_parent": sum(p is not None for p in parents),
            **harassing_vs_rest(records, probs)}


def benchmark_section(
    benchmarks: dict[str, list[Record]], scorers: dict[str, Scorer | None], review_thresholds: dict[str, float | None]
) -> dict:
    """benchmark → model → numbers, for every model with a scorer (a None scorer is skipped, e.g. no baseline)."""
    return {
        name: {model: score_benchmark(name, records, score, review_thresholds.get(model))
               for model, score in scorers.items() if score is not None}
        for name, records in benchmarks.items()
    }
