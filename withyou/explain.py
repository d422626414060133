"""Why the model said what it said: word-level occlusion attributions, merged into spans over the original text.

Torch-free: everything runs through the bundle's ONNX session (`Classifier.predict_proba`), so the server can
explain an answer with what it already has loaded.

Method — leave-one-word-out occlusion. A post is cut into words (`words`): runs of non-space characters, and each
CJK character on its own (BERT-style tokenizers read those one by one). For each word we delete it from the
*original* text, run the variant through the normal path (normalise → clip → tokenise → model) and take the
drop in the calibrated probability of the target: weight > 0 means the word pushed the answer towards the target.
Because the deletion happens on the original text, spans are character offsets into the text the client sent
(Python `str` indices, i.e. Unicode code points), however much `withyou.encoding.normalize_text` rewrites it
(entities, URLs, leet spellings); a variant whose token ids equal the full post's (a word past the truncation the
model never reads) is not run and weighs 0. All variants of all items go through the model in one batched call.

Two targets are explained: the predicted label and P(harassing) (what drives the action). For a reply, the
parent's share is measured too — P with the parent minus P without it — and when that shift reaches
`PARENT_MIN_SHIFT` for either target, the parent's words are explained the same way, with the reply fixed.

Faithfulness of these weights is measured, not assumed: evaluation/faithfulness.py (ERASER comprehensiveness
and sufficiency against random words).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from withyou.bundle import Classifier, Item
from withyou.encoding import encode_posts

MIN_SPAN_WEIGHT = 0.02
"""Words whose removal moves the target probability by less than this are left out of the spans."""
PARENT_MIN_SHIFT = 0.1
"""The parent is explained when it moves P(label) or P(harassing) by at least this much."""

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
_WORD = re.compile(rf"[{_CJK}]|[^\s{_CJK}]+")
_EDGE_PUNCTUATION = "\"'.,;:!?()[]{}<>«»“”‘’…-–—*_~`。、！？「」『』（）"


@dataclass(frozen=True)
class Span:
    """Characters `start:end` of the text; `weight` = the drop in the target probability when its strongest word is
    removed (one word at a time, so weights of a span's words are not added: two words that each carry the whole
    answer would sum past 1)."""

    start: int
    end: int
    weight: float


@dataclass(frozen=True)
class TextExplanation:
    """Spans for the predicted label and for P(harassing), over one text (the post or its parent)."""

    label: list[Span]
    harassing: list[Span]


@dataclass(frozen=True)
class Explanation:
    label: str
    text: TextExplanation
    parent_shift: dict[str, float] | None = None
    """P(target | post, parent) − P(target | post alone), for "label" and "harassing"; None without a parent."""
    parent: TextExplanation | None = None
    """Spans over the parent, when `parent_shift` reaches PARENT_MIN_SHIFT for either target."""

    def top_words(self, text: str, n: int = 3) -> list[str]:
        """The `n` heaviest spans for the predicted label pushing towards it, as text (for the review queue)."""
        return top_words(text, self.text.label, n)


@dataclass(frozen=True)
class WordWeights:
    """Word-level occlusion weights of one text: `words[i]` = (start, end); weights[target][i]."""

    words: list[tuple[int, int]]
    label: np.ndarray
    harassing: np.ndarray


def words(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word of `text`: non-space runs, and each CJK character alone."""
    return [match.span() for match in _WORD.finditer(text)]


def without(text: str, positions: Sequence[tuple[int, int]]) -> str:
    """`text` with the given word spans deleted (one space left where a word was)."""
    pieces, cursor = [], 0
    for start, end in sorted(positions):
        pieces.append(text[cursor:start])
        cursor = end
    pieces.append(text[cursor:])
    return " ".join(piece.strip() for piece in pieces if piece.strip())


def only(text: str, positions: Sequence[tuple[int, int]]) -> str:
    """Just the given word spans of `text`, in order, joined by spaces (ERASER's sufficiency input)."""
    return " ".join(text[start:end] for start, end in sorted(positions))


def word_weights(
    classifier: Classifier,
    items: Sequence[Item],
    targets: Sequence[int] | None = None,
    *,
    explain_parent: bool = False,
) -> tuple[np.ndarray, list[WordWeights]]:
    """Occlusion weights for each item's text (or, with `explain_parent`, its parent) for two targets:
    `targets[i]` (a label index; default the predicted label) and harassing. Returns the full posts'
    probabilities and the weights."""
    base = classifier.predict_proba([i.text for i in items], [i.parent_text for i in items])
    targets = base.argmax(axis=1) if targets is None else targets
    variants: list[tuple[int, int, str, str | None]] = []  # (item, word, text, parent)
    all_words: list[list[tuple[int, int]]] = []
    for index, item in enumerate(items):
        occluded = (item.parent_text or "") if explain_parent else item.text
        spans = words(occluded)
        all_words.append(spans)
        for word_index, span in enumerate(spans):
            variant = without(occluded, [span]) or " "
            if explain_parent:
                variants.append((index, word_index, item.text, variant))
            else:
                variants.append((index, word_index, variant, item.parent_text))
    changed = _changes_input(classifier, items, variants)
    run = [v for v, keep in zip(variants, changed) if keep]
    probs = (
        classifier.predict_proba([v[2] for v in run], [v[3] for v in run])
        if run
        else np.zeros((0, len(classifier.labels)))
    )
    weights = [
        (np.zeros(len(spans)), np.zeros(len(spans))) for spans in all_words
    ]
    harassing = classifier.harassing_index
    for (index, word_index, _, _), row in zip(run, probs):
        weights[index][0][word_index] = base[index, targets[index]] - row[targets[index]]
        weights[index][1][word_index] = base[index, harassing] - row[harassing]
    return base, [WordWeights(spans, label, harass) for spans, (label, harass) in zip(all_words, weights)]


def _changes_input(
    classifier: Classifier, items: Sequence[Item], variants: Sequence[tuple[int, int, str, str | None]]
) -> list[bool]:
    """Whether each variant's token ids differ from its item's (a word past the truncation changes nothing)."""
    if not variants:
        return []
    full = encode_posts(
        classifier.tokenizer, [i.text for i in items], [i.parent_text for i in items], classifier.normalize,
        classifier.encoding,
    )
    occluded = encode_posts(
        classifier.tokenizer, [v[2] for v in variants], [v[3] for v in variants], classifier.normalize,
        classifier.encoding,
    )
    return [encoding.ids != full[v[0]].ids for v, encoding in zip(variants, occluded)]


def merge_spans(text: str, positions: Sequence[tuple[int, int]], weights: np.ndarray, min_weight: float) -> list[Span]:
    """Adjacent words that push the same way (|weight| ≥ min_weight) become one span; edge punctuation trimmed."""
    spans: list[Span] = []
    run_start = run_end = None
    run_weight, run_sign, last_index = 0.0, 0, -2
    for index, ((start, end), weight) in enumerate(zip(positions, weights)):
        if abs(weight) < min_weight:
            continue
        sign = 1 if weight > 0 else -1
        if run_start is not None and index == last_index + 1 and sign == run_sign:
            run_end = end
            run_weight = run_weight if abs(run_weight) >= abs(weight) else float(weight)
        else:
            if run_start is not None:
                spans.append(_trimmed(text, run_start, run_end, run_weight))
            run_start, run_end, run_weight, run_sign = start, end, float(weight), sign
        last_index = index
    if run_start is not None:
        spans.append(_trimmed(text, run_start, run_end, run_weight))
    return spans


def _trimmed(text: str, start: int, end: int, weight: float) -> Span:
    inner = text[start:end].strip(_EDGE_PUNCTUATION)
    if inner:
        offset = text[start:end].index(inner)
        start, end = start + offset, start + offset + len(inner)
    return Span(start, end, round(weight, 4))


def segments(text: str, spans: Sequence[Span | dict]) -> list[dict]:
    """`text` cut into pieces {"text", "kind": "toward" | "against" | None, "weight"} covering it in order: what a
    template needs to highlight spans while escaping every piece (nothing is ever marked safe)."""
    out, cursor = [], 0
    for span in sorted((s if isinstance(s, Span) else Span(**s) for s in spans), key=lambda s: s.start):
        if span.start < cursor or span.end > len(text):
            continue  # overlapping or out of range: never trust stored offsets blindly
        if span.start > cursor:
            out.append({"text": text[cursor : span.start], "kind": None, "weight": None})
        kind = "toward" if span.weight > 0 else "against"
        out.append({"text": text[span.start : span.end], "kind": kind, "weight": span.weight})
        cursor = span.end
    if cursor < len(text):
        out.append({"text": text[cursor:], "kind": None, "weight": None})
    return out


def top_words(text: str, spans: Sequence[Span | dict], n: int = 3) -> list[str]:
    """The `n` heaviest spans pushing towards the target, as text (the review queue's "why" column)."""
    spans = [s if isinstance(s, Span) else Span(**s) for s in spans]
    best = sorted((s for s in spans if s.weight > 0 and s.end <= len(text)), key=lambda s: -s.weight)[:n]
    return [text[s.start : s.end] for s in best]


def explain(
    classifier: Classifier,
    items: Sequence[Item],
    *,
    min_weight: float = MIN_SPAN_WEIGHT,
    parent_min_shift: float = PARENT_MIN_SHIFT,
) -> list[Explanation]:
    """Explain each item's predicted label and P(harassing) with spans over its text (and its parent's when the
    parent moved the answer). Costs one model run per word read, batched; logs nothing."""
    items = list(items)
    if not items:
        return []
    base, text_weights = word_weights(classifier, items)
    predicted = base.argmax(axis=1)
    harassing = classifier.harassing_index
    replies = [index for index, item in enumerate(items) if item.parent_text]
    shifts: dict[int, dict[str, float]] = {}
    if replies:
        alone = classifier.predict_proba([items[i].text for i in replies])
        for row, index in zip(alone, replies):
            shifts[index] = {
                "label": round(float(base[index, predicted[index]] - row[predicted[index]]), 4),
                "harassing": round(float(base[index, harassing] - row[harassing]), 4),
            }
    moved = [i for i in replies if max(abs(v) for v in shifts[i].values()) >= parent_min_shift]
    parent_weights: dict[int, WordWeights] = {}
    if moved:
        _, weights = word_weights(classifier, [items[i] for i in moved], predicted[moved], explain_parent=True)
        parent_weights = dict(zip(moved, weights))

    def spans_of(text: str, weights: WordWeights) -> TextExplanation:
        return TextExplanation(
            label=merge_spans(text, weights.words, weights.label, min_weight),
            harassing=merge_spans(text, weights.words, weights.harassing, min_weight),
        )

    return [
        Explanation(
            label=classifier.labels[int(predicted[index])],
            text=spans_of(item.text, text_weights[index]),
            parent_shift=shifts.get(index),
            parent=spans_of(item.parent_text or "", parent_weights[index]) if index in parent_weights else None,
        )
        for index, item in enumerate(items)
    ]
