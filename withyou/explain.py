"""Why the model said what it said: word-level occlusion attributions, merged into spans over the original text.

Torch-free: everything runs through the bundle's ONNX session, so the server can explain an answer with what it
already has loaded.

Method — leave-one-word-out occlusion. A post is cut into words (`words`): runs of non-space characters, and each
CJK character on its own (BERT-style tokenizers read those one by one). For each word the model reads we delete it
from the *original* text, run the variant through the normal path (normalise → clip → tokenise → model) and take
the drop in the calibrated probability of the target: weight > 0 means the word pushed the answer towards the
target. Because the deletion happens on the original text, spans are character offsets into the text the client
sent (Python `str` indices, i.e. Unicode code points), however much `withyou.encoding.normalize_text` rewrites it.

The cost is bounded by what the model reads, not by the length of the post:
- Only words inside the model's window are run. `Occluder.candidates` locates the window from where the read
  tokens sit in the prepared text (the head, and the start of a clipped tail), mapped back to words by bisecting
  on the length of each word's normalised prefix (or suffix), `WINDOW_MARGIN` words to spare; `read_words` keeps
  those whose deletion changes the ids read from the text. Past the truncation, deleting a word changes nothing
  the model reads, and such a word weighs 0. A 5,000-character post costs about as much as a 60-word one.
- Variants are kept as the ids the model reads (`Encoded`), never as tokenizer encodings with their overflow.
- Each item has a budget of model runs (`DEFAULT_RUN_BUDGET`, the reference runs included), shared by the post
  and (when it moved the answer) its parent by the words each has read. When the words read do not fit, they are
  first occluded in contiguous groups, and the most influential groups are then explained word by word; the
  answer says so (`Explanation.note`, `TextExplanation.words_explained`).

Two targets are explained: the predicted label and P(harassing) (what drives the action). For a reply, the
parent's share is measured too — P with the parent minus P without it — and when that shift reaches
`PARENT_MIN_SHIFT` for either target, the parent's words are explained the same way, with the reply fixed.

The work is written as plans (`explanation_plan`): generators that yield the encoded inputs they need run and
receive their probabilities. `explain` runs plans directly; the server's scheduler (serving/scheduler.py) runs them
a chunk at a time beside classification, so explanation work is admitted, shared and cancelled in model runs.

What is explained is the transformer stage (its calibrated probabilities). For a bundle with a linear stage
(withyou/blend.py) the served answer is the blend or the cascade's linear stage, whose own weights are its n-gram
coefficients; the explanation then says which words moved the transformer, and its `label` may differ from the
served one on a post the two stages read differently.

Faithfulness of these weights is measured, not assumed: evaluation/faithfulness.py (ERASER comprehensiveness
and sufficiency against random words).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from withyou.bundle import Classifier, Item
from withyou.encoding import PARENT_FIRST, model_input, normalize_text, prepare_text, reads_parent

MIN_SPAN_WEIGHT = 0.02
"""Words whose removal moves the target probability by less than this are left out of the spans."""
PARENT_MIN_SHIFT = 0.1
"""The parent is explained when it moves P(label) or P(harassing) by at least this much."""
DEFAULT_RUN_BUDGET = 256
"""Model runs one explained item may cost, its reference runs included. The default model reads 128 tokens of a
post and its parent together, so its explanations always fit (≤ ~130 runs); a model with a longer window gets its
most influential passages explained instead (module docstring)."""
MIN_RUN_BUDGET = 8
SCAN_CHUNK = 32
"""Occluded variants tokenised at once while checking which candidate words the model reads."""
WINDOW_MARGIN = 8
"""Words checked past each end of the estimated window (normalisation can move a word's position a little)."""

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
    words_read: int = 0
    """Words of this text inside the model's window (the others cannot move the answer)."""
    words_explained: int = 0
    """Of those, the words occluded one by one: fewer than `words_read` only when the run budget ran out."""


@dataclass(frozen=True)
class Explanation:
    label: str
    text: TextExplanation
    parent_shift: dict[str, float] | None = None
    """P(target | post, parent) − P(target | post alone), for "label" and "harassing"; None without a parent."""
    parent: TextExplanation | None = None
    """Spans over the parent, when `parent_shift` reaches PARENT_MIN_SHIFT for either target."""
    note: str | None = None
    """Set when the explanation is partial (the item's run budget did not cover every word read), saying what was
    explained."""

    def top_words(self, text: str, n: int = 3) -> list[str]:
        """The `n` heaviest spans for the predicted label pushing towards it, as text (for the review queue)."""
        return top_words(text, self.text.label, n)


@dataclass(frozen=True)
class WordWeights:
    """Word-level occlusion weights of one text: `words[i]` = (start, end); weights[target][i]."""

    words: list[tuple[int, int]]
    label: np.ndarray
    harassing: np.ndarray


@dataclass(frozen=True)
class Encoded:
    """One model input as the ids the model reads, and nothing else: a tokenizers Encoding of a long text also
    keeps its overflow pieces (tens of KB each), which thousands of variants would multiply."""

    ids: list[int]
    attention_mask: list[int]
    type_ids: list[int]


Plan = Generator[list[Encoded], np.ndarray, object]
"""Yields encoded inputs to run; is sent their calibrated probabilities [n, labels]; returns its result."""


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


class Occluder:
    """Variants of one post with words of one of its texts (the post, or with `parent` its parent) deleted, encoded
    exactly as the classifier reads them; the other text is prepared once."""

    def __init__(self, classifier: Classifier, item: Item, *, parent: bool = False) -> None:
        self.classifier, self.parent = classifier, parent
        self.text = (item.parent_text or "") if parent else item.text
        self.words = words(self.text)
        other = item.text if parent else item.parent_text
        if parent:
            self.fixed: str | None = self.prepare(other)
        else:
            self.fixed = self.prepare(other) if reads_parent(other, classifier.encoding) else None
        parent_first = classifier.encoding.segments == PARENT_FIRST
        self.sequence = 0 if self.fixed is None or parent == parent_first else 1
        """Which sequence of the tokenizer's input holds the occluded text (withyou.encoding.model_input's order)."""
        self.prepared = self.prepare(self.text)
        """The occluded text as the model reads it: normalised and clipped."""
        (full,) = self.tokenize([self.text])
        self.full = as_encoded(full)
        self.full_read = self.read_ids(full)
        self.read_offsets = [o for o, s in zip(full.offsets, full.sequence_ids) if s == self.sequence and o[1] > o[0]]
        read_to = max((end for _, end in self.read_offsets), default=0)
        self.truncated = bool(self.full_read) and read_to < len(self.prepared.rstrip())
        """Whether the model stops reading the occluded text before its end (the window ends inside it)."""
        self._variants: dict[int, Encoded] = {}
        self._read: list[int] | None = None

    def prepare(self, text: str) -> str:
        spec = self.classifier.encoding
        return prepare_text(text, self.classifier.normalize, spec.head_chars, spec.tail_chars)

    def tokenize(self, texts: Sequence[str]) -> list[Any]:
        """Tokenizer encodings of the post with the occluded text replaced by each of `texts`."""
        order = self.classifier.encoding.segments
        if self.parent:
            read = [reads_parent(text, self.classifier.encoding) for text in texts]
            inputs = [model_input(self.fixed, self.prepare(t) if r else None, order) for t, r in zip(texts, read)]
        else:
            inputs = [model_input(self.prepare(text), self.fixed, order) for text in texts]
        return self.classifier.tokenizer.encode_batch(inputs)

    def read_ids(self, encoding: Any) -> list[int]:
        """The ids of the occluded text that the model reads (its sequence, within the truncation)."""
        if self.parent and self.fixed is not None and len(set(s for s in encoding.sequence_ids if s is not None)) < 2:
            return []  # the parent is not read (a single-segment model, or an empty parent)
        return [i for i, s in zip(encoding.ids, encoding.sequence_ids) if s == self.sequence]

    def encode_without(self, groups: Sequence[Sequence[int]]) -> list[Encoded]:
        """The post with each group of words (indices into `words`) deleted."""
        texts = [without(self.text, [self.words[i] for i in group]) or " " for group in groups]
        return [as_encoded(encoding) for encoding in self.tokenize(texts)]

    def candidates(self) -> list[int]:
        """Words that may be inside the window, from where the read tokens sit in the prepared text (head, and
        the start of a clipped text's tail), mapped back to words by the length of each word's normalised prefix
        (or suffix), with `WINDOW_MARGIN` words to spare on each side."""
        if not self.words or not self.full_read:
            return []
        spec = self.classifier.encoding
        normal = normalize_text if self.classifier.normalize else (lambda text: text)
        length = len(normal(self.text))
        head = spec.head_chars if length > spec.head_chars + spec.tail_chars else length
        head_reach = max((end for start, end in self.read_offsets if start < head), default=0)
        n = len(self.words)
        starts = [start for start, _ in self.words]
        last_head = bisect.bisect_left(range(n), head_reach, key=lambda i: len(normal(self.text[: starts[i]])))
        chosen = set(range(min(n, last_head + WINDOW_MARGIN)))
        tail_reach = max((end for start, end in self.read_offsets if start >= head), default=None)
        if tail_reach is not None:  # the tail is read from its start: [length - tail, that + read) in the normal text
            tail_read = tail_reach - (len(self.prepared) - spec.tail_chars)

            def before_end(i: int) -> int:  # minus the normalised length from word i to the end: non-decreasing
                return -len(normal(self.text[starts[i] :]))

            first = bisect.bisect_left(range(n), -spec.tail_chars, key=before_end)
            last = bisect.bisect_right(range(n), tail_read - spec.tail_chars, key=before_end)
            chosen.update(range(max(0, first - WINDOW_MARGIN), min(n, last + WINDOW_MARGIN)))
        return sorted(chosen)

    def read_words(self) -> list[int]:
        """Indices of the words the model reads: deleting one changes the ids read from the occluded text (when
        the window ends inside the text: the ids before they run out, which ignores a word past the window whose
        deletion only moves the truncation's split between post and parent by a token). Found once, then
        remembered."""
        if self._read is not None:
            return self._read
        self._read = read = []
        for start in range(0, len(chosen := self.candidates()), SCAN_CHUNK):
            chunk = chosen[start : start + SCAN_CHUNK]
            texts = [without(self.text, [self.words[i]]) or " " for i in chunk]
            for i, encoding in zip(chunk, self.tokenize(texts)):
                ids = self.read_ids(encoding)
                common = min(len(ids), len(self.full_read)) if self.truncated else None
                if ids[:common] != self.full_read[:common] or (common == 0 and ids != self.full_read):
                    self._variants[i] = as_encoded(encoding)
                    read.append(i)
        return read

    def variant(self, index: int) -> Encoded:
        """The post without word `index` (one that `read_words` found)."""
        return self._variants[index]


def as_encoded(encoding: Any) -> Encoded:
    return Encoded(encoding.ids, encoding.attention_mask, encoding.type_ids)


def occlusion(
    occluder: Occluder, base: np.ndarray, target: int, harassing: int, budget: int | None
) -> Generator[list[Encoded], np.ndarray, tuple[WordWeights, int, int, int]]:
    """Plan: occlusion weights of the words the model reads, within `budget` model runs (None: no limit).
    Returns (weights, words read, words explained one by one, model runs used)."""
    read = occluder.read_words()
    n = len(occluder.words)
    label_weights, harassing_weights = np.zeros(n), np.zeros(n)
    runs = 0
    explained = read
    if budget is not None and len(read) > budget:
        explained, runs = yield from most_influential(occluder, read, base, target, harassing, budget)
    if explained:
        probs = yield [occluder.variant(i) for i in explained]
        runs += len(explained)
        label_weights[explained] = base[target] - probs[:, target]
        harassing_weights[explained] = base[harassing] - probs[:, harassing]
    return WordWeights(occluder.words, label_weights, harassing_weights), len(read), len(explained), runs


def most_influential(
    occluder: Occluder, read: list[int], base: np.ndarray, target: int, harassing: int, budget: int
) -> Generator[list[Encoded], np.ndarray, tuple[list[int], int]]:
    """Plan: the words of the passages that move the answer most, as many as fit the budget. Half the budget
    occludes the read words in contiguous groups; the groups are taken most influential first (the largest drop
    or rise of either target) while their words fit the other half. Returns (those words, runs used)."""
    if budget < 2:
        return [], 0
    groups = [list(group) for group in np.array_split(np.asarray(read), budget // 2) if len(group)]
    probs = yield occluder.encode_without(groups)
    influence = np.maximum(np.abs(base[target] - probs[:, target]), np.abs(base[harassing] - probs[:, harassing]))
    room = budget - len(groups)
    chosen: list[int] = []
    for group_index in np.argsort(-influence, kind="stable"):
        group = groups[group_index]
        if len(chosen) + len(group) <= room:
            chosen.extend(int(i) for i in group)
    return sorted(chosen), len(groups)


def explanation_plan(
    classifier: Classifier,
    item: Item,
    *,
    budget: int = DEFAULT_RUN_BUDGET,
    min_weight: float = MIN_SPAN_WEIGHT,
    parent_min_shift: float = PARENT_MIN_SHIFT,
) -> Generator[list[Encoded], np.ndarray, Explanation]:
    """Plan: the explanation of one item (see `explain`), in at most `budget` model runs."""
    if budget < MIN_RUN_BUDGET:
        raise ValueError(f"an explanation needs a budget of at least {MIN_RUN_BUDGET} model runs, got {budget}")
    text = Occluder(classifier, item)
    reference = [text.full]
    if item.parent_text:
        reference.append(as_encoded(classifier.encode([item.text])[0]))  # the post alone
    probs = yield reference
    base = probs[0]
    target, harassing = int(base.argmax()), classifier.harassing_index
    shift = None
    parent = None
    if item.parent_text:
        alone = probs[1]
        shift = {
            "label": round(float(base[target] - alone[target]), 4),
            "harassing": round(float(base[harassing] - alone[harassing]), 4),
        }
        if max(abs(value) for value in shift.values()) >= parent_min_shift:
            parent = Occluder(classifier, item, parent=True)
    # The runs left are shared by the post and (when it moved the answer) its parent, by the words each has read.
    left = budget - len(reference)
    text_words, parent_words = len(text.read_words()), len(parent.read_words()) if parent else 0
    text_share = left if parent is None else round(left * text_words / max(1, text_words + parent_words))
    text_weights, text_read, text_explained, runs = yield from occlusion(text, base, target, harassing, text_share)
    parent_explanation = None
    if parent is not None:
        parent_weights, parent_read, parent_explained, _ = yield from occlusion(
            parent, base, target, harassing, left - runs
        )
        parent_explanation = spans_of(parent.text, parent_weights, min_weight, parent_read, parent_explained)
    explanation_text = spans_of(item.text, text_weights, min_weight, text_read, text_explained)
    return Explanation(
        label=classifier.labels[target],
        text=explanation_text,
        parent_shift=shift,
        parent=parent_explanation,
        note=partial_note([explanation_text, parent_explanation], budget),
    )


def spans_of(text: str, weights: WordWeights, min_weight: float, read: int, explained: int) -> TextExplanation:
    return TextExplanation(
        label=merge_spans(text, weights.words, weights.label, min_weight),
        harassing=merge_spans(text, weights.words, weights.harassing, min_weight),
        words_read=read,
        words_explained=explained,
    )


def partial_note(texts: Sequence[TextExplanation | None], budget: int) -> str | None:
    parts = [
        f"{name}: the {t.words_explained} most influential of the {t.words_read} words the model reads"
        for name, t in zip(("text", "parent"), texts)
        if t is not None and t.words_explained < t.words_read
    ]
    if not parts:
        return None
    return f"partial explanation within {budget} model runs: " + "; ".join(parts)


def run_plans(plans: Sequence[Plan], probabilities: Callable[[list[Encoded]], np.ndarray]) -> list[object]:
    """Run plans to completion, each step of all plans in one batched call; returns their results in order."""
    results: list[object] = [None] * len(plans)
    pending: dict[int, list[Encoded]] = {}

    def advance(index: int, probs: np.ndarray | None) -> None:
        try:
            pending[index] = plans[index].send(probs)  # type: ignore[arg-type]
        except StopIteration as stop:
            pending.pop(index, None)
            results[index] = stop.value

    for index in range(len(plans)):
        advance(index, None)
    while pending:
        order = list(pending)
        inputs = [encoded for index in order for encoded in pending[index]]
        probs = probabilities(inputs) if inputs else np.zeros((0, 0))
        offset = 0
        for index in order:
            size = len(pending[index])
            advance(index, probs[offset : offset + size])
            offset += size
    return results


def word_weights(
    classifier: Classifier,
    items: Sequence[Item],
    targets: Sequence[int] | None = None,
    *,
    explain_parent: bool = False,
) -> tuple[np.ndarray, list[WordWeights]]:
    """Occlusion weights for each item's text (or, with `explain_parent`, its parent) for two targets:
    `targets[i]` (a label index; default the predicted label) and harassing, with no run budget. Returns the full
    posts' probabilities and the weights."""

    def plan(index: int, item: Item) -> Generator[list[Encoded], np.ndarray, tuple[np.ndarray, WordWeights]]:
        occluder = Occluder(classifier, item, parent=explain_parent)
        (base,) = yield [occluder.full]  # the whole post, whichever text is occluded
        target = int(base.argmax()) if targets is None else int(targets[index])
        weights, *_ = yield from occlusion(occluder, base, target, classifier.harassing_index, None)
        return base, weights

    results = run_plans([plan(i, item) for i, item in enumerate(items)], classifier.probabilities_of)
    if not results:
        return np.zeros((0, len(classifier.labels))), []
    return np.array([base for base, _ in results]), [weights for _, weights in results]


def explain(
    classifier: Classifier,
    items: Sequence[Item],
    *,
    budget: int = DEFAULT_RUN_BUDGET,
    min_weight: float = MIN_SPAN_WEIGHT,
    parent_min_shift: float = PARENT_MIN_SHIFT,
) -> list[Explanation]:
    """Explain each item's predicted label and P(harassing) with spans over its text (and its parent's when the
    parent moved the answer). Costs one model run per word read, at most `budget` per item, batched; logs
    nothing."""
    plans = [
        explanation_plan(classifier, item, budget=budget, min_weight=min_weight, parent_min_shift=parent_min_shift)
        for item in items
    ]
    return run_plans(plans, classifier.probabilities_of)  # type: ignore[return-value]


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

