"""Reviewed items → labelled JSONL in the dataset schema (withyou.records.Record), for the next dataset build.

Each decided item becomes one record: id `review-<queue id>` (stable across exports), the post and its parent,
the reviewer's label, source `review`, and a tag saying whether the reviewer confirmed the model's label
(`review:confirmed`) or corrected it (`review:corrected`). Escalated and undecided items are left out, and so
are purged ones: their text is gone, so the retention policy reaches the training data at the next export too.

Appeal corrections: a post whose appeal was overturned (review/appeals.py) is written with the appeal's label, the
tag `review:appeal_correction` (training counts such rows TrainConfig.tag_weights times: training/config.py) and
the fields `appeal_correction: true`, `appeal_id` and `overturned_label` (the decision the appeal replaced); every
other row has `appeal_correction: false`. The extra fields are outside the dataset schema, which ignores them when
reading; the tag is what reaches training.

The default output is one snapshot file, artifacts/review/exports/reviewed.jsonl, rewritten atomically, which
`withyou retrain` (and `withyou data build --extra FILE`) merges into the dataset.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from review.store import ReviewError, ReviewStore
from withyou import paths
from withyou.records import Record, describe_validation_error

SOURCE = "review"
APPEAL_CORRECTION_TAG = "review:appeal_correction"


def default_export_path() -> Path:
    return paths.review_dir() / "exports" / "reviewed.jsonl"


@dataclass
class ExportSummary:
    path: Path
    written: int
    purged_skipped: int
    by_label: dict[str, int]
    corrected: int
    appeal_corrections: int = 0


def reviewed_records(store: ReviewStore) -> tuple[list[tuple[Record, dict]], int]:
    """([(record, appeal fields)] of every decided, unpurged item; how many decided items were skipped as purged)."""
    overturned = store.overturned_appeals()
    rows, purged = [], 0
    for item in store.decided_items():
        if item.purged:
            purged += 1
            continue
        appeal_id, label = overturned.get(item.id, (None, item.decided_label))
        tags = ("review:confirmed" if label == item.label else "review:corrected",)
        appeal = {"appeal_correction": appeal_id is not None}
        if appeal_id is not None:
            tags += (APPEAL_CORRECTION_TAG,)
            appeal.update(appeal_id=appeal_id, overturned_label=item.decided_label)
        try:
            record = Record(
                id=f"review-{item.id}", text=item.text, parent_text=item.parent_text, label=label, source=SOURCE,
                tags=tags,
            )  # fmt: skip
        except ValidationError as exc:  # e.g. a bundle's label the dataset schema does not have yet
            raise ReviewError(f"review item {item.id} cannot be exported: {describe_validation_error(exc)}") from None
        rows.append((record, appeal))
    return rows, purged


def export_reviewed(store: ReviewStore, out: Path | None = None) -> ExportSummary:
    """Write the snapshot (temporary file, then rename: a reader never sees half a file)."""
    out = Path(out) if out else default_export_path()
    rows, purged = reviewed_records(store)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.with_name(f".{out.name}.tmp")
    with open(staging, "w", encoding="utf-8") as handle:
        for record, appeal in rows:
            handle.write(json.dumps({**record.model_dump(), **appeal}, ensure_ascii=False) + "\n")
    os.replace(staging, out)
    records = [record for record, _ in rows]
    by_label: dict[str, int] = {}
    for record in records:
        by_label[record.label] = by_label.get(record.label, 0) + 1
    corrected = sum("review:corrected" in r.tags for r in records)
    appeal_corrections = sum(APPEAL_CORRECTION_TAG in r.tags for r in records)
    return ExportSummary(out, len(records), purged, dict(sorted(by_label.items())), corrected, appeal_corrections)
