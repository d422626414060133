"""The record schema shared by every dataset file, and a JSONL reader that never drops a row silently.

A record is one labelled post: `text`, the post it answers (`parent_text`, null for a top-level post),
its `label`, where it came from (`source`) and its language. Seed files may add `tags` (edge cases covered).
Built dataset files add `split` and `group` (see training/build.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from withyou.labels import Label


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text is empty or whitespace")
    return value


def _blank_is_none(value: str | None) -> str | None:
    return value if value is not None and value.strip() else None


PostText = Annotated[str, AfterValidator(_not_blank)]
"""A post's text: refused when empty or only whitespace (dataset records and /classify items alike)."""
ParentText = Annotated[str | None, AfterValidator(_blank_is_none)]
"""The post replied to: an empty or whitespace parent means no parent."""


class DataError(ValueError):
    """A data file is malformed; the message names the file and line so a user can fix it."""


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    text: PostText
    parent_text: ParentText = None
    label: Label
    source: str = Field(min_length=1)
    lang: str = "en"
    tags: tuple[str, ...] = ()
    split: str | None = None
    group: str | None = None



@dataclass
class ReadReport:
    """What a tolerant read skipped, so callers can print and record it instead of dropping rows silently."""

    path: str
    rows_read: int = 0
    skipped: list[str] = field(default_factory=list)

    @property
    def skipped_count(self) -> int:
        return len(self.skipped)


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "record"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def iter_jsonl(path: Path, *, strict: bool = True, report: ReadReport | None = None) -> Iterator[Record]:
    """Yield records from a JSONL file.

    strict=True raises DataError at the first bad line ("file:line: what is wrong"); strict=False skips it
    and notes why in `report`, which the caller must surface (counts in manifests and summaries).
    """
    path = Path(path)
    report = report if report is not None else ReadReport(path=str(path))
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problem = f"{path}:{lineno}: not valid UTF-8 (byte {exc.start})"
                if strict:
                    raise DataError(problem) from None
                report.skipped.append(problem)
                continue
            try:
                payload = json.loads(line)
                if not isinstance(payload, dict):
                    raise DataError(f"{path}:{lineno}: expected a JSON object, got {type(payload).__name__}")
                record = Record.model_validate(payload)
            except json.JSONDecodeError as exc:
                problem = f"{path}:{lineno}: malformed JSON ({exc.msg} at column {exc.colno})"
            except ValidationError as exc:
                problem = f"{path}:{lineno}: {describe_validation_error(exc)}"
            except DataError as exc:
                problem = str(exc)
            else:
                report.rows_read += 1
                yield record
                continue
            if strict:
                raise DataError(problem)
            report.skipped.append(problem)


def read_jsonl(path: Path, *, strict: bool = True, report: ReadReport | None = None) -> list[Record]:
    return list(iter_jsonl(path, strict=strict, report=report))


def write_jsonl(path: Path, records: Iterable[Record]) -> int:
    """Write records one per line (UTF-8, unescaped) and return how many were written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record.model_dump(exclude_defaults=False), ensure_ascii=False) + "\n")
            count += 1
    return count
