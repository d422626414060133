"""Duplicate removal for the built dataset: normalised exact duplicates, then MinHash near-duplicates.

An item is a (parent_text, text) pair — the same words under different parents can carry different labels
("me too" under a call for stories vs under a pizza post) — so both keys below include the normalised parent.

- Exact: same normalised (parent, text). The record from the highest-priority tier wins (the project's own
  corpus over mapped public labels); the others are counted as `exact` when they agree on the label and as
  `conflicting` when they do not. If the top tier itself disagrees, every record of that key is dropped and
  counted as `conflicting` (we cannot tell which label is right).
- Near: texts of at least `min_words` words whose character 5-gram Jaccard similarity is ≥ `threshold`
  (datasketch MinHash LSH, verified on the estimated Jaccard) under the same normalised parent and with the
  same label; the later one is dropped (`near`). Near-identical texts with *different* labels are kept:
  they are usually minimal pairs ("you're a liar" / "you're not a liar"); they are counted in
  `near_label_disagreements`. Short texts are left to the exact key: a one-word edit changes their meaning.
"""

from __future__ import annotations

import re
import sys
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from withyou.records import Record

URL = re.compile(r"(?:https?://|www\.)\S+")
MENTION = re.compile(r"@\w+")
PLACEHOLDER = re.compile(r"\[(?:user|url)\]")
SHINGLE = 5
_PUNCTUATION: dict[int, str] | None = None


def punctuation_to_space() -> dict[int, str]:
    """A str.translate table mapping every Unicode punctuation code point to a space (built once)."""
    global _PUNCTUATION
    if _PUNCTUATION is None:
        _PUNCTUATION = {
            cp: " " for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)).startswith("P")
        }
    return _PUNCTUATION


def normalize_text(text: str | None) -> str:
    """NFKC, casefold, drop URLs, @mentions and [USER]/[URL] placeholders and punctuation, collapse whitespace.

    A text with nothing left (e.g. "???" or a bare link) keeps its casefolded form, so it does not collide with
    every other empty one.
    """
    if not text:
        return ""
    folded = unicodedata.normalize("NFKC", text).casefold()
    stripped = PLACEHOLDER.sub(" ", MENTION.sub(" ", URL.sub(" ", folded)))
    stripped = stripped.translate(punctuation_to_space())
    return " ".join(stripped.split()) or " ".join(folded.split())


def item_key(record: Record) -> tuple[str, str]:
    return normalize_text(record.parent_text), normalize_text(record.text)


@dataclass
class DedupStats:
    exact: int = 0
    near: int = 0
    conflicting: int = 0
    near_label_disagreements: int = 0
    by_source: dict[str, Counter[str]] = field(default_factory=dict)

    def drop(self, kind: str, record: Record) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        self.by_source.setdefault(record.source, Counter())[kind] += 1

    def as_dict(self) -> dict:
        totals = {k: getattr(self, k) for k in ("exact", "near", "conflicting", "near_label_disagreements")}
        return {**totals, "by_source": {s: dict(c) for s, c in sorted(self.by_source.items())}}


def drop_exact_duplicates(
    records: Sequence[Record], keys: Sequence[tuple[str, str]], tier: Callable[[Record], int], stats: DedupStats
) -> list[int]:
    """Indices of the records kept: one per normalised (parent, text); `tier` ranks sources (lower wins)."""
    by_key: dict[tuple[str, str], list[int]] = {}
    for index, key in enumerate(keys):
        by_key.setdefault(key, []).append(index)
    keep: set[int] = set()
    for indices in by_key.values():
        if len(indices) == 1:
            keep.add(indices[0])
            continue
        best = min(tier(records[i]) for i in indices)
        top = [i for i in indices if tier(records[i]) == best]
        if len({records[i].label for i in top}) > 1:
            for i in indices:
                stats.drop("conflicting", records[i])
            continue
        winner = top[0]
        keep.add(winner)
        for i in indices:
            if i != winner:
                same = records[i].label == records[winner].label
                stats.drop("exact" if same else "conflicting", records[i])
    return sorted(keep)


def shingles(normalized: str) -> set[bytes]:
    if len(normalized) <= SHINGLE:
        return {normalized.encode("utf-8")}
    return {normalized[i : i + SHINGLE].encode("utf-8") for i in range(len(normalized) - SHINGLE + 1)}


def drop_near_duplicates(
    records: Sequence[Record],
    keys: Sequence[tuple[str, str]],
    stats: DedupStats,
    *,
    threshold: float = 0.8,
    num_perm: int = 128,
    min_words: int = 4,
    progress: Callable[[int], None] | None = None,
) -> list[int]:
    """Indices of the records kept: later near-duplicates (same parent, same label) of a kept one are dropped."""
    from datasketch import MinHash, MinHashLSH

    template = MinHash(num_perm=num_perm, seed=1)
    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    kept: list[int] = []
    signatures: dict[int, tuple[MinHash, str, str]] = {}
    for index, (record, (parent, text)) in enumerate(zip(records, keys)):
        if progress:
            progress(1)
        if len(text.split()) < min_words:
            kept.append(index)
            continue
        signature = MinHash(
            num_perm=num_perm, permutations=template.permutations, scheme=template.scheme, hashfunc=zlib.crc32
        )
        signature.update_batch(shingles(text))
        duplicate = disagreement = False
        for candidate in lsh.query(signature):
            other, other_parent, other_label = signatures[candidate]
            if other_parent != parent or signature.jaccard(other) < threshold:
                continue
            if other_label == record.label:
                duplicate = True
                break
            disagreement = True
        if duplicate:
            stats.drop("near", record)
            continue
        stats.near_label_disagreements += int(disagreement)
        lsh.insert(index, signature)
        signatures[index] = (signature, parent, record.label)
        kept.append(index)
    return kept


def deduplicate(
    records: Iterable[Record],
    tier: Callable[[Record], int],
    *,
    threshold: float = 0.8,
    num_perm: int = 128,
    min_words: int = 4,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Record], DedupStats]:
    """Exact then near-duplicate removal; input order decides which copy survives within a tier."""
    records = list(records)
    keys = [item_key(r) for r in records]
    stats = DedupStats()
    unique = drop_exact_duplicates(records, keys, tier, stats)
    near_kept = drop_near_duplicates(
        [records[i] for i in unique],
        [keys[i] for i in unique],
        stats,
        threshold=threshold,
        num_perm=num_perm,
        min_words=min_words,
        progress=progress,
    )
    return [records[unique[i]] for i in near_kept], stats
