"""Public-data adapters: each reads one dataset folder into WithYou `Record`s, using its mapping from sources.toml.

Contract of every adapter, `adapter(folder, source, log) -> Iterator[Record]`:
- streams records (a generator); ids are `<source>:<upstream id>` so they are unique across datasets;
- bad rows (malformed CSV, wrong field count, missing field, unknown label, empty text, non-UTF-8 bytes) go
  through `log.skip`: with `strict` it raises DataError("file:line: reason"), otherwise the row is skipped and
  counted per file and reason — build prints the counts and stores them in the manifest, never a silent drop;
- rows left out on purpose by the mapping (e.g. EDOS upstream test rows) are counted with `log.exclude`;
- a missing file, or a file without the columns the adapter needs, raises DataError (the dataset cannot be read);
- every public record is tagged `upstream_split:<split>` (lower case) and, when that split is one of the source's
  `benchmark_splits`, `benchmark` (see `split_tags`): build keeps those rows out of training, as a real-text
  benchmark. Rows that may only be used non-commercially are tagged `noncommercial`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from training.dedup import normalize_text
from training.sources import Source
from withyou.records import DataError, ReadReport, Record, iter_jsonl

csv.field_size_limit(1 << 24)
SURROGATE = re.compile("[\udc80-\udcff]")
BENCHMARK_TAG = "benchmark"
NONCOMMERCIAL_TAG = "noncommercial"
PARENT_BENCHMARK_TAG = "parent_benchmark"  # a training-side reply whose parent_text is a held-out benchmark post


def split_tags(source: Source, split: str) -> tuple[str, ...]:
    """`upstream_split:<split>`, plus `benchmark` when the source holds that split out as a real-text benchmark."""
    split = split.strip().lower()
    tag = f"upstream_split:{split}"
    return (tag, BENCHMARK_TAG) if split in source.benchmark_splits else (tag,)


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


def iter_csv_rows(
    path: Path, required: tuple[str, ...], log: ReadLog, drop: tuple[str, ...] = ()
) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (first line of the row, {column: value}) for each well-formed CSV row; skip the others via `log`.

    Columns in `drop` (e.g. user names) never enter the yielded rows.
    """
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
                yield start, {column: cell for column, cell in zip(header, row) if column not in drop}


def first_missing(row: dict[str, str], fields: tuple[str, ...]) -> str | None:
    return next((f for f in fields if not row.get(f, "").strip()), None)


def read_edos(folder: Path, source: Source, log: ReadLog) -> Iterator[Record]:
    """EDOS: `label_sexist` through the mapping; train and dev rows only (the mirror holds no others).

    Dev rows are the held-out benchmark (`benchmark_splits`), tagged by `split_tags`.
    """
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
            tags=(*split_tags(source, row["split"]), f"edos_category:{category}"),
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
        tags=split_tags(source, split),
    )


MISOGYNY_COLUMNS = ("entry_id", "parent_id", "subreddit", "body", "image", "level_2", "split")
MISOGYNY_SPLITS = ("train", "test")
REMOVED_BODIES = ("[removed]", "[deleted]")


@dataclass
class RedditEntry:
    """One Reddit post or comment of the misogyny file, its rows merged (one row per level_2 category given)."""

    line: int
    parent_id: str
    subreddit: str
    body: str
    image: bool
    split: str
    level_2: list[str] = field(default_factory=list)

    @property
    def usable_body(self) -> str | None:
        """The text, or None when the post is empty, removed or deleted (nothing to label or to read as context)."""
        body = self.body.strip()
        return body if body and body not in REMOVED_BODIES else None


def reddit_entry(row: dict[str, str], line: int, log: ReadLog) -> RedditEntry:
    body, image = row["body"], row["image"].strip()
    if image not in ("", "Yes"):
        # An unquoted comma in the body pushed its tail into the (otherwise empty) image column.
        body, image = f"{body},{row['image']}", ""
        log.exclude("body split at an unquoted comma into the image column (rejoined, kept)")
    return RedditEntry(line, row["parent_id"].strip(), row["subreddit"].strip(), body, image == "Yes", row["split"])


def read_misogyny_entries(path: Path, source: Source, log: ReadLog) -> dict[str, RedditEntry]:
    """entry_id → entry. The file repeats an entry once per level_2 category; its rows are merged here.

    The `author` column is dropped as each row is read: user names never reach a record, a log or a model.
    """
    entries: dict[str, RedditEntry] = {}
    for line, row in iter_csv_rows(path, MISOGYNY_COLUMNS, log, drop=("author",)):
        if missing := first_missing(row, ("entry_id", "level_2", "split")):
            log.skip(path, line, f"missing field {missing}")
            continue
        if row["split"] not in MISOGYNY_SPLITS:
            log.skip(path, line, f"unknown split {row['split']!r}")
            continue
        if row["level_2"] not in source.mapping:
            log.skip(path, line, f"unknown label {row['level_2']!r}")
            continue
        entry_id = row["entry_id"].strip()
        entry = entries.get(entry_id)
        if entry is None:
            entry = entries[entry_id] = reddit_entry(row, line, log)
        elif entry.split != row["split"]:
            log.skip(path, line, f"entry {entry_id} repeated in split {row['split']} (first: {entry.split})")
            continue
        else:
            log.exclude("entry repeated with another level_2 category (merged into one record)")
        log.read(path)
        entry.level_2.append(row["level_2"])
    return entries


def parent_of(entry: RedditEntry, entries: dict[str, RedditEntry]) -> RedditEntry | None:
    """The entry named by parent_id (`t1_<comment>` or `t3_<opening post>`), from any split: it is context only."""
    kind, _, parent_id = entry.parent_id.partition("_")
    return entries.get(parent_id) if kind in ("t1", "t3") else None


def read_misogyny_reddit(folder: Path, source: Source, log: ReadLog) -> Iterator[Record]:
    """Misogyny (Guest et al.): every post is a record; a reply carries the post it answers as parent_text."""
    path = require_file(folder, "final_labels.csv")
    entries = read_misogyny_entries(path, source, log)
    for entry_id, entry in entries.items():
        if not entry.body.strip():
            log.skip(path, entry.line, "empty text (image post)" if entry.image else "empty text")
            continue
        if entry.usable_body is None:
            log.exclude(f"{'image post' if entry.image else 'post'} {entry.body.strip()} (no text left)")
            continue
        level_2 = sorted(set(entry.level_2))
        labels = {source.mapping[value] for value in level_2}
        if len(labels) > 1:
            log.exclude(f"conflicting level_2 categories ({' + '.join(level_2)})")
            continue
        tags = [*split_tags(source, entry.split), *(f"level_2:{value}" for value in level_2)]
        tags.append(f"subreddit:{entry.subreddit}")
        if entry.image:
            tags.append("image_post")
        parent_text = None
        if entry.parent_id:
            parent = parent_of(entry, entries)
            parent_text = parent.usable_body if parent else None
            if parent_text is None:
                tags.append("parent_unavailable")
                log.exclude("parent post missing, empty or removed (kept without parent_text)")
            elif BENCHMARK_TAG not in tags and BENCHMARK_TAG in split_tags(source, parent.split):
                tags.append(PARENT_BENCHMARK_TAG)
        yield Record(
            id=f"{source.name}:{entry_id}",
            text=entry.usable_body,
            parent_text=parent_text,
            label=labels.pop(),
            source=source.name,
            tags=tuple(tags),
        )


CROWDCOUNTER_FILES = {"train": "Train.json", "val": "Val.json", "test": "Test.json"}
CROWDCOUNTER_TEXTS = ("hatespeech", "counterspeech")


def iter_json_lines(path: Path, log: ReadLog) -> Iterator[tuple[int, dict]]:
    """Yield (line, object) for each JSON Lines row that is a JSON object; skip the others via `log`."""
    with open(path, "rb") as handle:
        for line, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                payload = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                log.skip(path, line, f"not valid UTF-8 (byte {exc.start})")
                continue
            except json.JSONDecodeError as exc:
                log.skip(path, line, f"malformed JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(payload, dict):
                log.skip(path, line, f"expected a JSON object, got {type(payload).__name__}")
                continue
            yield line, payload


def crowdcounter_problem(row: dict) -> str | None:
    for name in (*CROWDCOUNTER_TEXTS, "required_types"):
        if not isinstance(row.get(name), str):
            return f"missing field {name}"
    if empty := next((name for name in CROWDCOUNTER_TEXTS if not row[name].strip()), None):
        return f"empty text ({empty})"
    if not row["required_types"].strip():
        return "missing field required_types"
    return None


def short_text_hash(text: str) -> str:
    return hashlib.sha1(normalize_text(text).encode("utf-8")).hexdigest()[:12]


def read_crowdcounter(folder: Path, source: Source, log: ReadLog) -> Iterator[Record]:
    """CrowdCounter: each counter-speech reply (parent = the hate post) and, once per split, each distinct hate post.

    Every record is tagged `noncommercial`: the hate posts come from CC BY-NC sources, as records or as parents.
    """
    if missing := set(CROWDCOUNTER_TEXTS) - source.mapping.keys():
        raise DataError(f"sources table: [{source.name}] mapping lacks {sorted(missing)}")
    paths = {split: require_file(folder, name) for split, name in CROWDCOUNTER_FILES.items()}
    for split, path in paths.items():
        base_tags = (*split_tags(source, split), NONCOMMERCIAL_TAG)
        hate_seen: set[str] = set()
        for line, row in iter_json_lines(path, log):
            if problem := crowdcounter_problem(row):
                log.skip(path, line, problem)
                continue
            log.read(path)
            hate, counter = row["hatespeech"].strip(), row["counterspeech"].strip()
            hate_id = f"{source.name}:{split}:hate:{short_text_hash(hate)}"
            if hate_id in hate_seen:
                log.exclude("hate post repeated in its split (emitted once)")
            else:
                hate_seen.add(hate_id)
                label = source.mapping["hatespeech"]
                yield Record(id=hate_id, text=hate, label=label, source=source.name, tags=base_tags)
            yield Record(
                id=f"{source.name}:{split}:{line}",
                text=counter,
                parent_text=hate,
                label=source.mapping["counterspeech"],
                source=source.name,
                tags=(*base_tags, f"cs_type:{row['required_types'].strip()}"),
            )


Adapter = Callable[[Path, Source, ReadLog], Iterator[Record]]

ADAPTERS: dict[str, Adapter] = {
    "edos": read_edos,
    "tweeteval_hate": read_tweeteval,
    "tweeteval_offensive": read_tweeteval,
    "misogyny_reddit": read_misogyny_reddit,
    "crowdcounter": read_crowdcounter,
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
