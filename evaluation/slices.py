"""Slices of the test set where a moderation model tends to fail, each scored on its own.

- `source=<name>`: one slice per data source (public sets and the seed corpus differ in style and labelling).
- `with_parent` / `without_parent`: replies read in context vs top-level posts.
- `short`: fewer than `short_words` (default 6) whitespace-separated words — "me too", "sure you were.".
- `obfuscated`: `looks_obfuscated(text)` is true (heuristic below).

The obfuscation detector is a heuristic, tuned to catch the spellings named in datasets/LABELS.md, not a
classifier. After dropping URLs, e-mail addresses, @handles and #hashtags, a text is obfuscated when it has
1. a l33t/symbol spelling: a letter, then one or more of `0 1 3 4 5 7 @ $ ! * # +`, then a letter inside one
   word — "l1ar", "s!ut", "k*ll", "wh0re", "b1tch" (not "covid19", "3pm", "mp3": digits must sit between letters);
2. a word ending in masking symbols after letters: "a$$", "b*tch" is (1), "sh**" is here;
3. spaced-out letters: four or more single letters separated by spaces, dots, dashes, underscores or
   asterisks — "w h o r e", "l.i.a.r", "s-l-u-t" (not "a b c" — three letters are too common in lists).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from evaluation.config import DEFAULT_SHORT_WORDS
from evaluation.metrics import (
    HARASSING,
    classification_metrics,
    disclosure_to_harassing_rate,
)
from withyou.records import Record

_NOT_WORDS = re.compile(r"https?://\S+|www\.\S+|\S+@\S+\.\S+|[@#]\w+", re.IGNORECASE)
_LEET_INSIDE = re.compile(r"[a-z][013457@$!*#+]+[a-z]", re.IGNORECASE)
_MASKED_END = re.compile(r"\b[a-z]+[$*#]{2,}", re.IGNORECASE)
_SPACED_LETTERS = re.compile(r"(?<![\w])(?:[a-z][ ._*\-]{1,2}){3,}[a-z](?![\w])", re.IGNORECASE)


def looks_obfuscated(text: str) -> bool:
    """True when the text contains a l33t, symbol-masked or letter-spaced spelling (see module docstring)."""
    cleaned = _NOT_WORDS.sub(" ", text)
    return bool(
        _LEET_INSIDE.search(cleaned) or _MASKED_END.search(cleaned) or _SPACED_LETTERS.search(cleaned)
    )


def is_short(text: str, short_words: int = DEFAULT_SHORT_WORDS) -> bool:
    return len(text.split()) < short_words


def slice_masks(records: Sequence[Record], short_words: int = DEFAULT_SHORT_WORDS) -> dict[str, np.ndarray]:
    """Name → boolean mask over `records`, for every slice in the module docstring (empty slices left out)."""
    masks: dict[str, np.ndarray] = {}
    for source in sorted({r.source for r in records}):
        masks[f"source={source}"] = np.array([r.source == source for r in records])
    has_parent = np.array([r.parent_text is not None for r in records])
    masks["with_parent"] = has_parent
    masks["without_parent"] = ~has_parent
    masks[f"short (<{short_words} words)"] = np.array([is_short(r.text, short_words) for r in records])
    masks["obfuscated"] = np.array([looks_obfuscated(r.text) for r in records])
    return {name: mask for name, mask in masks.items() if mask.any()}


def slice_metrics(y_true: np.ndarray, probs: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, dict]:
    """Per slice: size, label counts, accuracy, macro-F1, harassing P/R/F1 and disclosure→harassing rate."""
    out = {}
    for name, mask in masks.items():
        y, p = y_true[mask], probs[mask]
        full = classification_metrics(y, p)
        harassing = full["per_label"]["harassing"]
        out[name] = {
            "n": int(mask.sum()),
            "label_counts": {label: v["support"] for label, v in full["per_label"].items()},
            "accuracy": full["accuracy"],
            "macro_f1": full["macro_f1"],
            "harassing_precision": harassing["precision"] if (p.argmax(1) == HARASSING).any() else None,
            "harassing_recall": harassing["recall"] if harassing["support"] else None,
            "harassing_f1": harassing["f1"] if harassing["support"] else None,
            "disclosure_to_harassing_rate": disclosure_to_harassing_rate(y, p.argmax(1)),
        }
    return out
