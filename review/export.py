"""Reviewed items → labelled JSONL in the dataset schema (withyou.records.Record), for the next dataset build.

Each decided item becomes one record: id `review-<queue id>` (stable across exports), the post and its parent,
the reviewer's label, source `review`, and a tag saying whether the reviewer confirmed the model's label
(`review:confirmed`) or corrected it (`review:corrected`). Escalated and undecided items are left out, and so
are purged ones: their text is gone, so the retention policy reaches the training data at the next export too.

The default output is one snapshot file, artifacts/review/exports/reviewed.jsonl, rewritten atomically, which
`withyou retrain` (and `withyou data build --extra FILE`) merges into the dataset.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from review.store import ReviewError, ReviewStore
from withyou import paths
from withyou.records import Record, describe_validation_error, write_jsonl

SOURCE = "review"


def default_export_path() -> Path:
    return paths.review_dir() / "exports" / "reviewed.jsonl"


@dataclass
class ExportSummary:
    path: Path
    written: int
    purged_skipped: int
    by_label: dict[str, int]
    corrected: int


def reviewed_records(store: ReviewStore) -> tuple[list[Record], int]:
    """(records of every decided, unpurged item; how many decided items were skipped because purged)."""
    records, purged = [], 0
    for item in store.decided_items():
        if item.purged:
            purged += 1
            continue
        try:
            record = Record(
                id=f"review-{item.id}",
                text=item.text,
                parent_text=item.parent_text,
                label=item.decided_label,
                source=SOURCE,
                tags=("review:confirmed" if item.decided_label == item.label else "review:corrected",),
            )
        except ValidationError as exc:  # e.g. a bundle's label the dataset schema does not have yet
            raise ReviewError(f"review item {item.id} cannot be exported: {describe_validation_error(exc)}") from None
        records.append(record)
    return records, purged


def export_reviewed(store: ReviewStore, out: Path | None = None) -> ExportSummary:
    """Write the snapshot (temporary file, then rename: a reader never sees half a file)."""
    out = Path(out) if out else default_export_path()
    records, purged = reviewed_records(store)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.tmp")
    written = write_jsonl(staging, records)
    os.replace(staging, out)
    by_label: dict[str, int] = {}
    for record in records:
        by_label[record.label] = by_label.get(record.label, 0) + 1
    corrected = sum("review:corrected" in r.tags for r in records)
    return ExportSummary(out, written, purged, dict(sorted(by_label.items())), corrected)
