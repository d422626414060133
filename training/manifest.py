"""What a built dataset's manifest.json says about it: content hash, counts, skips, shortcut risks.

The content hash is what every model records as its `data_hash`: sha256 over the canonical JSON of every record
(keys sorted, compact separators, UTF-8), records sorted by (split, id) — so it changes exactly when the data does,
not when the build time or the order of work does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence

from withyou.labels import LABELS
from withyou.records import Record

SPLIT_ORDER = {"train": 0, "validation": 1, "test": 2}
LOCATION = re.compile(r"^.*?:\d+: ")
DETAIL = re.compile(r"\s*\((?:byte \d+|expected \d+ fields, got \d+|[^()]* at column \d+)\)$")
EXAMPLES_PER_FILE = 5
DOMINANT_SHARE = 0.8


def canonical_json(record: Record) -> str:
    return json.dumps(record.model_dump(mode="json"), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def content_hash(records: Sequence[Record]) -> str:
    digest = hashlib.sha256()
    for record in sorted(records, key=lambda r: (SPLIT_ORDER.get(r.split or "", 9), r.id)):
        digest.update(canonical_json(record).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def count_table(records: Sequence[Record]) -> dict[str, dict[str, dict[str, int]]]:
    """split → label → source → n, in split and label order."""
    counts = Counter((r.split, r.label, r.source) for r in records)
    table: dict[str, dict[str, dict[str, int]]] = {}
    for split in sorted({r.split for r in records}, key=lambda s: SPLIT_ORDER.get(s or "", 9)):
        table[split] = {}
        for label in LABELS:
            cells = {src: n for (sp, lb, src), n in sorted(counts.items()) if sp == split and lb == label}
            if cells:
                table[split][label] = cells
    return table


def reason_of(problem: str) -> str:
    """'path:12: malformed JSON (Expecting value at column 1)' → 'malformed JSON' (for counting by reason)."""
    return DETAIL.sub("", LOCATION.sub("", problem, count=1)).strip()


def skipped_summary(logs: Mapping) -> dict[str, dict]:
    """file → rows read, rows skipped, counts per reason and the first few locations (file:line, never text)."""
    summary = {}
    for log in logs.values():
        for path, report in log.files.items():
            summary[path] = {
                "rows_read": report.rows_read,
                "skipped": report.skipped_count,
                "reasons": dict(Counter(reason_of(p) for p in report.skipped).most_common()),
                "examples": report.skipped[:EXAMPLES_PER_FILE],
            }
    return summary


def shortcut_risks(records: Sequence[Record]) -> list[str]:
    """Labels a model could learn from the source instead of the text: missing, single-source or dominated."""
    by_label: dict[str, Counter[str]] = {label: Counter() for label in LABELS}
    for record in records:
        by_label[record.label][record.source] += 1
    risks = []
    for label, sources in by_label.items():
        total = sum(sources.values())
        if not total:
            risks.append(f"{label}: no rows at all")
            continue
        top, n = sources.most_common(1)[0]
        if len(sources) == 1:
            risks.append(f"{label}: every row comes from {top} — a model can learn the source instead of the label")
        elif n / total >= DOMINANT_SHARE:
            risks.append(f"{label}: {n / total:.0%} of rows come from {top} — its style may stand in for the label")
    return risks
