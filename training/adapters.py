"""Public-data adapters: each reads one dataset folder into WithYou `Record`s, using its mapping from sources.toml.

Contract of every adapter, `adapter(folder, source, log) -> Iterator[Record]`:
- streams records (a generator); ids are `<source>:<upstream id>` so they are unique across datasets;
- bad rows (malformed CSV, wrong field count, missing field, unknown label, empty text, non-UTF-8 bytes) go
  through `log.skip`: with `strict` it raises DataError("file:line: reason"), otherwise the row is skipped and
  counted per file and reason — build prints the counts and stores them in the manifest, never a silent drop;
- rows left out on purpose by the mapping (e.g. EDOS upstream test rows) are counted with `log.exclude`;
- a missing file, or a file without the columns the adapter needs, raises DataError (the dataset cannot be read).
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from training.sources import Source
from withyou.records import DataError, ReadReport, Record, iter_jsonl

csv.field_size_limit(1 << 24)
SURROGATE = re.compile("[\udc80-\udcff]")


class ReadLog:
    """What one read skipped (bad input, per file) and excluded (by the mapping), so nothing disappears silently."""

    def __init__(self, strict: bool = False) -> None:
        self.strict = strict
        self.files: dict[str, ReadReport] = {}
        self.excluded: Counter[str] = Counter()

    def report(self, path: Path) -> ReadReport:
        return self.files.setdefault(str(path), ReadReport(path=str(path)))

    def skip(self, path: Path, line: int, reason: str) -> None:
        problem = f"{path}:{line}: {reason}"
        if self.strict:
            raise DataError(problem)
        self.report(path).skipped.append(problem)

    def read(self, path: Path) -> None:
        self.report(path).rows_read += 1

    def exclude(self, reason: str, n: int = 1) -> None:
        self.excluded[reason] += n

    @property
    def skipped_count(self) -> int:
        return sum(r.skipped_count for r in self.files.values())


def require_file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise DataError(f"{path}: file missing (run `withyou data pull` or check --data-dir)")
    return path


def iter_csv_rows(path: Path, required: tuple[str, ...], log: ReadLog) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (first line of the row, {column: value}) for each well-formed CSV row; skip the others via `log`."""
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise DataError(f"{path}: empty file, expected a header with {', '.join(required)}") from None
        missing = [c for c in required if c not in header]
        if missing:
            raise DataError(f"{path}:1: header lacks column(s) {', '.join(missing)}")
        last_line = reader.line_num
        while True:
            start = last_line + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                last_line = reader.line_num
                log.skip(path, start, f"malformed CSV ({exc})")
                continue
            last_line = reader.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                log.skip(path, start, f"malformed CSV row (expected {len(header)} fields, got {len(row)})")
            elif any(SURROGATE.search(cell) for cell in row):
                log.skip(path, start, "not valid UTF-8")
            else:
                yield start, dict(zip(header, row))


def first_missing(row: dict[str, str], fields: tuple[str, ...]) -> str | None:
    return next((f for f in fields if not row.get(f, "").strip()), None)


def read_edos(folder: Path, source: Source, log: ReadLog) -> Iterator[Record]:
    """EDOS: `label_sexist` through the mapping; train and dev rows only (the mirror holds no others)."""
    names = [f.path for f in [*source.files, *source.mirror_files]]
    path = next((folder / n for n in names if (folder / n).is_file()), None) or require_file(folder, names[0])
    for line, row in iter_csv_rows(path, ("rewire_id", "text", "label_sexist", "split"), log):
        if missing := first_missing(row, ("rewire_id", "label_sexist", "split")):
            log.skip(path, line, f"missing field {missing}")
            continue
        if not row["text"].strip():
            log.skip(path, line, "empty text")
            continue
        if row["split"] not in ("train", "dev"):
            log.exclude(f"upstream {row['split']} split")
            continue
        label = source.mapping.get(row["label_sexist"])
        if label is None:
            log.skip(path, line, f"unknown label {row['label_sexist']!r}")
            continue
        category = row.get("label_category", "none").split(". ", 1)[-1].strip() or "none"
        log.read(path)
        yield Record(
            id=f"{source.name}:{row['rewire_id']}",
            text=row["text"].strip(),
            label=label,
            source=source.name,
            tags=(f"upstream_split:{row['split']}", f"edos_category:{category}"),
        )


TWEETEVAL_SPLITS = ("train", "val", "test")


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def read_tweeteval(folder: Path, source: Source, log: ReadLog) -> Iterator[Record]:
    """TweetEval: `<split>_text.txt` line n carries the tweet, `<split>_labels.txt` line n its label."""
    pairs = [(require_file(folder, f"{s}_text.txt"), require_file(folder, f"{s}_labels.txt")) for s in TWEETEVAL_SPLITS]
    for text_path, label_path in pairs:
        if (n_text := count_lines(text_path)) != (n_labels := count_lines(label_path)):
            raise DataError(f"{text_path} has {n_text} lines but {label_path} has {n_labels}; cannot pair them")
    for split, (text_path, label_path) in zip(TWEETEVAL_SPLITS, pairs):
        with open(text_path, "rb") as texts, open(label_path, "rb") as labels:
            for line, (raw_text, raw_label) in enumerate(zip(texts, labels), start=1):
                yield from tweeteval_row(source, split, line, raw_text, raw_label, text_path, label_path, log)


def tweeteval_row(
    source: Source,
    split: str,
    line: int,
    raw_text: bytes,
    raw_label: bytes,
    text_path: Path,
    label_path: Path,
    log: ReadLog,
) -> Iterator[Record]:
    try:
        text = raw_text.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        log.skip(text_path, line, f"not valid UTF-8 (byte {exc.start})")
        return
    try:
        label_value = raw_label.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        log.skip(label_path, line, f"not valid UTF-8 (byte {exc.start})")
        return
    if not label_value:
        log.skip(label_path, line, "missing label")
        return
    if (label := source.mapping.get(label_value)) is None:
        log.skip(label_path, line, f"unknown label {label_value!r}")
        return
    if not text:
        log.skip(text_path, line, "empty text")
        return
    log.read(text_path)
    yield Record(
        id=f"{source.name}:{split}:{line}",
        text=text,
        label=label,
        source=source.name,
        tags=(f"upstream_split:{split}",),
    )


EMPATHY_FILES = {
    "er": "emotional-reactions-reddit.csv",
    "ip": "interpretations-reddit.csv",
    "ex": "explorations-reddit.csv",
}
EMPATHY_COLUMNS = ("sp_id", "rp_id", "seeker_post", "response_post", "level")


def read_empathy_levels(folder: Path, log: ReadLog) -> tuple[dict[tuple[str, str], dict], Counter[str]]:
    """Join the three annotation files on (sp_id, rp_id); a pair repeated in one file keeps its highest level."""
    pairs: dict[tuple[str, str], dict] = {}
    repeats: Counter[str] = Counter()
    for mechanism, name in EMPATHY_FILES.items():
        path = require_file(folder, name)
        for line, row in iter_csv_rows(path, EMPATHY_COLUMNS, log):
            if missing := first_missing(row, ("sp_id", "rp_id", "level")):
                log.skip(path, line, f"missing field {missing}")
                continue
            if not row["response_post"].strip():
                log.skip(path, line, "empty text")
                continue
            if row["level"].strip() not in ("0", "1", "2"):
                log.skip(path, line, f"unknown level {row['level'].strip()!r}")
                continue
            log.read(path)
            key = (row["sp_id"].strip(), row["rp_id"].strip())
            texts = {"seeker": row["seeker_post"].strip(), "response": row["response_post"].strip()}
            pair = pairs.setdefault(key, texts)
            level = int(row["level"])
            if mechanism in pair:
                repeats[mechanism] += 1
            pair[mechanism] = max(level, pair.get(mechanism, 0))
    return pairs, repeats


def empathy_class(pair: dict) -> str | None:
    """'empathic', 'no_empathy', or None when the annotations do not decide (explorations only, or incomplete)."""
    if pair.get("er", 0) >= 1 or pair.get("ip", 0) >= 1:
        return "empathic"
    if all(pair.get(m) == 0 for m in EMPATHY_FILES):
        return "no_empathy"
    return None


def read_empathy(folder: Path, source: Source, log: ReadLog) -> Iterator[Record]:
    """Empathy: responses become records with the seeker post as parent; seeker posts are never records."""
    if missing := {"empathic", "no_empathy"} - source.mapping.keys():
        raise DataError(f"sources table: [{source.name}] mapping lacks {sorted(missing)}")
    pairs, repeats = read_empathy_levels(folder, log)
    for mechanism, n in repeats.items():
        log.exclude(f"pair repeated in {EMPATHY_FILES[mechanism]} (merged, highest level kept)", n)
    for (sp_id, rp_id), pair in pairs.items():
        kind = empathy_class(pair)
        if kind is None:
            reason = "explorations only" if pair.get("ex", 0) >= 1 else "not annotated in all three files"
            log.exclude(f"ambiguous empathy: {reason}")
            continue
        yield Record(
            id=f"{source.name}:{sp_id}:{rp_id}",
            text=pair["response"],
            parent_text=pair["seeker"] or None,
            label=source.mapping[kind],
            source=source.name,
            tags=tuple(f"{m}:{pair[m]}" for m in EMPATHY_FILES if m in pair),
        )


Adapter = Callable[[Path, Source, ReadLog], Iterator[Record]]

ADAPTERS: dict[str, Adapter] = {
    "edos": read_edos,
    "tweeteval_hate": read_tweeteval,
    "tweeteval_offensive": read_tweeteval,
    "empathy": read_empathy,
}


def read_seed(seed_dir: Path, log: ReadLog) -> Iterator[Record]:
    """The project's own corpus: every datasets/seed/*.jsonl in name order, validated against the Record schema."""
    for path in sorted(Path(seed_dir).glob("*.jsonl")):
        yield from iter_jsonl(path, strict=log.strict, report=log.report(path))


def read_source(source: Source, data_dir: Path, log: ReadLog) -> Iterator[Record]:
    """Records of one public dataset from its folder under data_dir."""
    if source.name not in ADAPTERS:
        raise DataError(f"no adapter for dataset {source.name!r}; known: {', '.join(ADAPTERS)}")
    return ADAPTERS[source.name](source.folder_in(data_dir), source, log)
