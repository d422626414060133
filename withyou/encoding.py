"""How a post (and the post it answers) becomes model input — the same rules for training and serving.

Training (`encode_batch`) and the bundle reader (`encode_posts` + `pad_encodings`) tokenise with the bundle's
`tokenizer.json`, so the ids a model was trained on are the ids it is served with (no second tokenizer that could
drift). What else the model assumes is recorded in the bundle (metadata.json `encoding`, see `EncodingSpec`): pair
or single segment, max length and truncation, the pad id, whether the graph takes token_type_ids.

- A reply is a segment pair: the judged post first (segment A), its parent second (segment B), so a post
  without a parent — one segment — sits where replies sit (`POST_FIRST`). Bundles exported before the order was
  recorded read (parent_text, text) (`PARENT_FIRST`) and are served so: the order is `EncodingSpec.segments`. A
  model trained on single segments (`EncodingSpec.pair` false) reads the post alone.
- Text is normalised first (`normalize_text`, when the bundle says so): markup, URLs and mentions become fixed
  placeholders and common obfuscations are undone, so noise around a post cannot flip its label.
- Long text is clipped by characters before tokenising (head + tail: openings and endings carry most
  signal, and we never tokenise megabytes), then by tokens with the `longest_first` strategy, so neither
  the parent nor the reply can crowd the other out.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tokenizers import Encoding, Tokenizer

from withyou.confusables import read_lookalikes_as_latin

DEFAULT_MAX_LENGTH = 128
HEAD_CHARS = 1500
TAIL_CHARS = 500
TRUNCATION = "longest_first"
"""Token truncation of a (parent, reply) pair: trim the longer segment first, so neither crowds the other out."""
POST_FIRST = "post_first"
"""Segment order of a reply since bundles record it: (text, parent_text). With the parent first, a top-level post
(one segment, so segment A) sat in the parents' position: a bare "Me too." read like the parent of a sarcastic
reply (issue 18)."""
PARENT_FIRST = "parent_first"
"""The order of bundles exported before `EncodingSpec.segments` existed: (parent_text, text)."""
SEGMENT_ORDERS = (POST_FIRST, PARENT_FIRST)
PAD_TOKENS = ("[PAD]", "<pad>", "<|pad|>", "<PAD>")
"""Pad tokens of common vocabularies, tried in order when neither the bundle nor the tokenizer names its pad id."""

NORMALIZATION = "withyou-text-v1"
"""Name of the normalisation below; a bundle records it in metadata.json (`text_normalization`) and is served with
exactly the normalisation it was trained with (a bundle without the key is served raw, as it was trained)."""

_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]{0,500})?/?>")
_MD_LINK = re.compile(r"\[([^\[\]]{1,200})\]\((?:https?://|www\.)[^)\s]{1,500}\)")
_URL = re.compile(r"(?:https?://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|ly|io|co|in|uk|gl|me|gg|tv)/\S*",
                  re.IGNORECASE)
_URL_PLACEHOLDER = re.compile(r"\[url\]", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])(?:@\w{1,50}|\[user\]|/?u/[A-Za-z0-9_-]{2,30})", re.IGNORECASE)
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_SPACED_LETTERS = re.compile(r"(?<![\w])(?:[A-Za-z][ .*_-]){3,}[A-Za-z](?![\w])")
_LEET = {"0": "o", "1": "i", "!": "i", "3": "e", "4": "a", "@": "a", "5": "s", "$": "s", "7": "t"}
_LEET_INSIDE = re.compile(r"(?<=[a-zA-Z])[013457!@$]+(?=[a-zA-Z])")
_REPEATS = re.compile(r"(.)\1{3,}")
_SPACES = re.compile(r"\s+")


def normalize_text(text: str) -> str:
    """The one text normalisation of training and serving (`NORMALIZATION`): what a post says, without its wrapping.

    HTML entities are decoded; scripts, styles, comments and tags are removed (their text content stays); links
    become `[url]`, mentions (`@name`, `[USER]`, `u/name`) become `@user` — one spelling whatever the platform,
    so the source's style is not a cue; NFKC folds look-alike letters; invisible characters go; spaced-out
    letters ("l i a r") are joined; digits and symbols inside words are read as the letters they stand for
    ("l1ar", "b!tch"); a character repeated more than three times is cut to three; in a Latin text in disguise,
    Cyrillic and Greek look-alike letters are read as the Latin ones they imitate ("ѕlut" with a Cyrillic ѕ,
    withyou.confusables — what a language detector and a reader see, and a text without such letters is
    unchanged). A post that is nothing but wrapping keeps its original text, so the model never reads an empty
    string.
    """
    cleaned = html.unescape(text)
    cleaned = _COMMENT.sub(" ", _SCRIPT_STYLE.sub(" ", cleaned))
    cleaned = _MD_LINK.sub(r"\1 [url]", cleaned)
    cleaned = _TAG.sub(" ", cleaned)
    cleaned = _URL_PLACEHOLDER.sub(" [url] ", _URL.sub(" [url] ", cleaned))
    cleaned = _MENTION.sub("@user", cleaned)
    cleaned = _INVISIBLE.sub("", unicodedata.normalize("NFKC", cleaned))
    cleaned = _SPACED_LETTERS.sub(lambda m: re.sub(r"[ .*_-]", "", m.group(0)), cleaned)
    cleaned = _LEET_INSIDE.sub(lambda m: "".join(_LEET[c] for c in m.group(0)), cleaned)
    cleaned = _REPEATS.sub(r"\1\1\1", cleaned)
    cleaned = read_lookalikes_as_latin(_SPACES.sub(" ", cleaned).strip())
    return cleaned or text.strip() or text


def clip_text(text: str, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """Keep the first `head` and last `tail` characters of an over-long text, joined by an ellipsis."""
    if len(text) <= head + tail:
        return text
    return text[:head] + " … " + text[-tail:]


@dataclass(frozen=True)
class EncodedBatch:
    input_ids: np.ndarray
    attention_mask: np.ndarray
    token_type_ids: np.ndarray

    def as_feeds(self, input_names: Sequence[str]) -> dict[str, np.ndarray]:
        """The arrays a graph takes, by input name (token_type_ids only when the graph has that input)."""
        arrays = {
            "input_ids": self.input_ids,
            "attention_mask": self.attention_mask,
            "token_type_ids": self.token_type_ids,
        }
        unknown = [name for name in input_names if name not in arrays]
        if unknown:
            raise ValueError(f"model input(s) {unknown} are not produced by withyou.encoding (it makes {list(arrays)})")
        return {name: arrays[name] for name in input_names}


@dataclass(frozen=True)
class EncodingSpec:
    """How a model reads posts — written by export into metadata.json (`encoding`), read back by the bundle reader."""

    max_length: int = DEFAULT_MAX_LENGTH
    pair: bool = True
    """A reply is read as the segment pair (parent_text, text); false: the post alone, parents ignored."""
    pad_id: int = 0
    token_type_ids: bool = True
    """Whether the ONNX graph takes a token_type_ids input (BERT does; RoBERTa-style and DistilBERT models do not)."""
    truncation: str = TRUNCATION
    segments: str = POST_FIRST
    """Segment order of a reply (`SEGMENT_ORDERS`); a recorded encoding without it is `PARENT_FIRST`."""
    head_chars: int = HEAD_CHARS
    tail_chars: int = TAIL_CHARS

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Any) -> "EncodingSpec":
        """Parse metadata.json's `encoding`; raises ValueError saying which key is wrong."""
        if not isinstance(data, dict):
            raise ValueError(f"`encoding` must be an object, got {type(data).__name__}")
        spec = cls(**{"segments": PARENT_FIRST, **{key: data[key] for key in cls.__dataclass_fields__ if key in data}})
        for name in ("max_length", "pad_id", "head_chars", "tail_chars"):
            value = getattr(spec, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name == "max_length" else 0):
                raise ValueError(f"encoding.{name} must be a {'positive' if name == 'max_length' else 'non-negative'} "
                                 f"integer, got {value!r}")
        for name in ("pair", "token_type_ids"):
            if not isinstance(getattr(spec, name), bool):
                raise ValueError(f"encoding.{name} must be true or false, got {getattr(spec, name)!r}")
        if spec.segments not in SEGMENT_ORDERS:
            raise ValueError(f"encoding.segments {spec.segments!r} is unknown to this version (it knows "
                             f"{', '.join(SEGMENT_ORDERS)})")
        if spec.truncation != TRUNCATION:
            raise ValueError(f"encoding.truncation {spec.truncation!r} is unknown to this version (it knows {TRUNCATION!r})")
        return spec


def set_truncation(tokenizer: Tokenizer, max_length: int) -> Tokenizer:
    """The one place the tokenizer's truncation is set up (training, export and the bundle reader call it):
    `max_length` tokens, `TRUNCATION` strategy, no padding (batches are padded by `pad_encodings`)."""
    tokenizer.enable_truncation(max_length=max_length, strategy=TRUNCATION)
    tokenizer.no_padding()
    return tokenizer


def load_tokenizer(path: Path | str, max_length: int = DEFAULT_MAX_LENGTH) -> Tokenizer:
    """Load a `tokenizer.json` with the truncation every WithYou model uses."""
    return set_truncation(Tokenizer.from_file(str(path)), max_length)


def prepare_text(text: str, normalize: bool, head: int = HEAD_CHARS, tail: int = TAIL_CHARS) -> str:
    """What the tokenizer reads for one post: normalised (when the model was trained so), then clipped."""
    return clip_text(normalize_text(text) if normalize else text, head, tail)


def encode_posts(
    tokenizer: Tokenizer,
    texts: Sequence[str],
    parent_texts: Sequence[str | None] | None = None,
    normalize: bool = True,
    spec: EncodingSpec | None = None,
) -> list[Encoding]:
    """Tokenise posts (with optional parents) without padding: normalised, clipped, segment-paired, truncated.

    `spec` (the bundle's EncodingSpec; default: pairs, 1,500 + 500 characters) says whether parents are read and
    how long texts are clipped; token truncation is the tokenizer's own (`set_truncation`)."""
    spec = spec or EncodingSpec()
    if parent_texts is None:
        parent_texts = [None] * len(texts)
    if len(parent_texts) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(parent_texts)} parent texts")
    if not texts:
        return []

    def prepare(text: str) -> str:
        return prepare_text(text, normalize, spec.head_chars, spec.tail_chars)

    inputs = [
        model_input(prepare(text), prepare(parent) if reads_parent(parent, spec) else None, spec.segments)
        for text, parent in zip(texts, parent_texts)
    ]
    return tokenizer.encode_batch(inputs)


def reads_parent(parent_text: str | None, spec: EncodingSpec) -> bool:
    """Whether the model reads this parent: a non-empty parent, for a model trained on pairs."""
    return bool(parent_text) and spec.pair


def model_input(
    prepared_text: str, prepared_parent: str | None, segments: str = POST_FIRST
) -> str | tuple[str, str]:
    """The tokenizer's input for one post from its prepared text (and prepared parent, when read): the segment
    pair in the `segments` order, or the post alone."""
    if prepared_parent is None:
        return prepared_text
    return (prepared_text, prepared_parent) if segments == POST_FIRST else (prepared_parent, prepared_text)


def pad_encodings(encodings: Sequence[Encoding], pad_id: int = 0) -> EncodedBatch:
    """Pad encodings to the longest of them, as int64 arrays."""
    if not encodings:
        empty = np.zeros((0, 0), dtype=np.int64)
        return EncodedBatch(empty, empty, empty)
    width = max(len(enc.ids) for enc in encodings)
    input_ids = np.full((len(encodings), width), pad_id, dtype=np.int64)
    attention_mask = np.zeros((len(encodings), width), dtype=np.int64)
    token_type_ids = np.zeros((len(encodings), width), dtype=np.int64)
    for row, enc in enumerate(encodings):
        n = len(enc.ids)
        input_ids[row, :n] = enc.ids
        attention_mask[row, :n] = enc.attention_mask
        token_type_ids[row, :n] = enc.type_ids
    return EncodedBatch(input_ids, attention_mask, token_type_ids)


def pad_id_of(tokenizer: Tokenizer) -> int:
    """The tokenizer's pad id: its padding setting if it has one, else the first of PAD_TOKENS in its vocabulary,
    else 0. Export records the model's own pad id in the bundle (EncodingSpec.pad_id), which takes precedence."""
    padding = tokenizer.padding
    if padding and padding.get("pad_id") is not None and padding.get("pad_token") is not None:
        if tokenizer.token_to_id(padding["pad_token"]) == padding["pad_id"]:
            return int(padding["pad_id"])
    for token in PAD_TOKENS:
        found = tokenizer.token_to_id(token)
        if found is not None:
            return found
    return 0


def length_batches(lengths: Sequence[int], max_items: int, max_tokens: int) -> list[np.ndarray]:
    """Group positions into batches of similar length: at most `max_items` posts and `max_tokens` padded tokens each.

    Sorting by length before padding is what makes batched CPU inference pay off: a batch padded to its longest
    post wastes little when its posts are alike (measured on the validation split: 48 → 109 posts/s at batch 32).
    A post longer than `max_tokens` still gets a batch of its own.
    """
    order = np.argsort(np.asarray(lengths), kind="stable")
    batches, current = [], []
    for position in order:
        width = int(lengths[position])  # ascending, so the newest post is the widest of the batch
        if current and (len(current) >= max_items or (len(current) + 1) * width > max_tokens):
            batches.append(np.asarray(current))
            current = []
        current.append(int(position))
    if current:
        batches.append(np.asarray(current))
    return batches


def encode_batch(
    tokenizer: Tokenizer,
    texts: Sequence[str],
    parent_texts: Sequence[str | None] | None = None,
    pad_id: int | None = None,
    normalize: bool = True,
    segments: str = POST_FIRST,
) -> EncodedBatch:
    """Encode posts (with optional parents) into padded int64 arrays, padded to the longest in the batch."""
    encodings = encode_posts(tokenizer, texts, parent_texts, normalize, EncodingSpec(segments=segments))
    return pad_encodings(encodings, pad_id_of(tokenizer) if pad_id is None else pad_id)
