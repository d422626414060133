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


NAMES_A_USER = re.compile(
    r"(?<![\w@])@(?!user|url)\w+"  # an @handle the dataset did not mask (they mask mentions as @user, links as @url)
    r"|(?<![\w/])/?u/[A-Za-z0-9_-]{3,}"  # a Reddit user
    r"|\bmy\s+names?(?:'s|\s+is)?\s+\w"  # "my name is …", "my names …"
    r"|\byour\s+names?\s+(?:is\s+)?\w",  # a chatbot echoing it back: "why do you say your names …"
    re.IGNORECASE,
)
NAMES_A_USER_REASON = "names a user (an unmasked @handle, or a name given or echoed)"


def names_a_user(*texts: str | None) -> bool:
    """True when a text names a user: such rows are left out (counted), so no user name reaches a record."""
    return any(text and NAMES_A_USER.search(text) for text in texts)


NO_UPSTREAM_SPLIT = "all"
"""`upstream_split:all` for the rows of a dataset published without splits (mlma, told_br)."""
MLMA_COLUMNS = ("HITId", "tweet", "sentiment", "target", "group")
MLMA_HOSTILITY = ("offensive", "hateful", "abusive", "disrespectful", "fearful")


def mlma_class(row: dict[str, str]) -> str:
    """`normal` (every annotator), `hostile_women` (hostile, aimed at women or gender), or why the row is left out."""
    sentiments = set(row["sentiment"].strip().split("_"))
    if sentiments == {"normal"}:
        return "normal"
    if "normal" in sentiments:
        return "excluded: annotators split between normal and hostile"
    if row["group"].strip() == "women" or row["target"].strip() == "gender":
        return "hostile_women"
    return f"excluded: hostile, aimed at another group (target {row['target'].strip() or 'none'})"


def read_mlma(folder: Path, source: Source, log: ReadLog) -> Iterator[Record]:
    """MLMA: `<lang>_dataset.csv` for each of the source's `languages`; hostility aimed at women or gender →
    harassing, tweets every annotator called normal → neutral, the rest left out and counted (mlma_class)."""
    if missing := {"hostile_women", "normal"} - source.mapping.keys():
        raise DataError(f"sources table: [{source.name}] mapping lacks {sorted(missing)}")
    for lang in source.languages:
        path = require_file(folder, f"{lang}_dataset.csv")
        for line, row in iter_csv_rows(path, MLMA_COLUMNS, log):
            if missing_field := first_missing(row, ("HITId", "tweet", "sentiment")):
                log.skip(path, line, "empty text" if missing_field == "tweet" else f"missing field {missing_field}")
                continue
            if unknown := set(row["sentiment"].strip().split("_")) - {"normal", *MLMA_HOSTILITY}:
                log.skip(path, line, f"unknown sentiment {sorted(unknown)}")
                continue
            log.read(path)
            kind, text = mlma_class(row), row["tweet"].strip()
            if names_a_user(text):
                log.exclude(NAMES_A_USER_REASON)
            elif kind.startswith("excluded: "):
                log.exclude(f"{lang}: {kind.removeprefix('excluded: ')}")
            else:
                yield Record(
                    id=f"{source.name}:{lang}:{row['HITId'].strip()}",
                    text=text,
                    label=source.mapping[kind],
                    source=source.name,
                    lang=lang,
                    tags=(*split_tags(source, NO_UPSTREAM_SPLIT), f"mlma_target:{row['target'].strip()}",
                          f"mlma_group:{row['group'].strip()}", f"mlma_sentiment:{row['sentiment'].strip()}"),
                )


TOLD_BR_CATEGORIES = ("homophobia", "obscene", "insult", "racism", "misogyny", "xenophobia")
TOLD_BR_MAJORITY = 2.0
"""Votes (of 3 annotators) that make a category the row's: a majority."""


def told_br_votes(row: dict[str, str]) -> dict[str, float] | None:
    """Category → annotator votes (0–3), or None when a vote is not a number in that range."""
    try:
        votes = {category: float(row[category]) for category in TOLD_BR_CATEGORIES}
    except ValueError:
        return None
    return votes if all(0.0 <= v <= 3.0 for v in votes.values()) else None


def told_br_class(votes: dict[str, float]) -> str:
    """`misogyny` (a majority of the 3 annotators), `none` (no vote in any category), or why it is left out."""
    if votes["misogyny"] >= TOLD_BR_MAJORITY:
        return "misogyny"
    if not any(votes.values()):
        return "none"
    if votes["misogyny"]:
        return "excluded: one misogyny vote of three"
    if any(votes[c] >= TOLD_BR_MAJORITY for c in ("homophobia", "racism", "xenophobia")):
        return "excluded: hate aimed at another group (homophobia, racism or xenophobia by a majority)"
    if votes["insult"] >= TOLD_BR_MAJORITY or votes["obscene"] >= TOLD_BR_MAJORITY:
        return "excluded: insult or obscenity by a majority, no misogyny vote"
    return "excluded: toxic votes without a majority, no misogyny vote"


GBK_MOJIBAKE = re.compile("[\u3000-\u30ff\u4e00-\u9fff\ue000-\uf8ff\uff00-\uffef\ufffd]+")
"""Runs of CJK, kana, private-use and replacement characters: in ToLD-Br, UTF-8 bytes once decoded as GBK."""
REPAIRED_ENCODING_TAG = "repaired_encoding"


def repair_gbk_mojibake(text: str) -> str:
    """`text` with each GBK_MOJIBAKE run turned back into the UTF-8 it was ("n茫o" → "não"); bytes lost upstream
    (mostly the tails of emoji) are dropped. ToLD-Br has about 1,100 such rows and no genuine CJK text."""

    def gbk_bytes(char: str) -> bytes:
        try:
            return char.encode("gbk")
        except UnicodeEncodeError:
            return b""

    def utf8(run: re.Match) -> str:
        return b"".join(map(gbk_bytes, run.group())).decode("utf-8", errors="replace").replace("\ufffd", "")

    return GBK_MOJIBAKE.sub(utf8, text)


def read_told_br(folder: Path, source: Source, log: ReadLog) -> Iterator[Record]:
    """ToLD-Br: misogyny by a majority of the 3 annotators → harassing, no vote at all → neutral; other toxic rows
    (insults, obscenity, other hate) are left out and counted (told_br_class). Mojibake is repaired first."""
    if missing := {"misogyny", "none"} - source.mapping.keys():
        raise DataError(f"sources table: [{source.name}] mapping lacks {sorted(missing)}")
    path = require_file(folder, "ToLD-BR.csv")
    for line, row in iter_csv_rows(path, ("text", *TOLD_BR_CATEGORIES), log):
        text = repair_gbk_mojibake(row["text"]).strip()
        if not text:
            log.skip(path, line, "empty text")
            continue
        if (votes := told_br_votes(row)) is None:
            log.skip(path, line, "a vote that is not a number from 0 to 3")
            continue
        log.read(path)
        kind = told_br_class(votes)
        if names_a_user(text):
            log.exclude(NAMES_A_USER_REASON)
        elif kind.startswith("excluded: "):
            log.exclude(kind.removeprefix("excluded: "))
        else:
            flagged = [f"told_category:{c}" for c in TOLD_BR_CATEGORIES if votes[c] >= TOLD_BR_MAJORITY]
            if text != row["text"].strip():
                flagged.append(REPAIRED_ENCODING_TAG)
            yield Record(
                id=f"{source.name}:{line}",
                text=text,
                label=source.mapping[kind],
                source=source.name,
                lang=source.languages[0],
                tags=(*split_tags(source, NO_UPSTREAM_SPLIT), *flagged),
            )


CONVABUSE_FILES = {split: f"ConvAbuseEMNLP{split}.csv" for split in ("train", "valid", "test")}
CONVABUSE_SEVERITY = ("1", "0", "-1", "-2", "-3")
"""`is_abuse.<s>`: 1 not abusive, 0 ambiguous, -1 … -3 mildly … very strongly abusive."""
CONVABUSE_TYPES = ("ableist", "homophobic", "intellectual", "racist", "sexist", "sex_harassment")
"""Abuse types read as tags (`transphobic` is not: upstream's header names Annotator8's column Annotator6_…)."""
CONVABUSE_ANNOTATORS = 8


def convabuse_cells(row: dict[str, str], column: str) -> list[int]:
    """One annotator's column: '' (not annotated), '1', or '1, 0' when they annotated the example more than once."""
    return [int(value) for value in row[column].split(",")] if row[column].strip() else []


def convabuse_votes(row: dict[str, str]) -> list[tuple[str, set[str]]]:
    """(vote, abuse types) per annotator of the example: vote `abusive`, `not_abusive` or `ambiguous` (their
    annotations disagree, or they chose 0)."""
    votes = []
    for n in range(1, CONVABUSE_ANNOTATORS + 1):
        if f"Annotator{n}_is_abuse.1" not in row:
            continue
        severities = [convabuse_cells(row, f"Annotator{n}_is_abuse.{s}") for s in CONVABUSE_SEVERITY]
        if not any(severities):
            continue
        chosen = {s for s, cells in zip(CONVABUSE_SEVERITY, severities) if 1 in cells}
        kinds = {"not_abusive" if s == "1" else "ambiguous" if s == "0" else "abusive" for s in chosen}
        vote = kinds.pop() if len(kinds) == 1 else "ambiguous"
        types = {t for t in CONVABUSE_TYPES if 1 in convabuse_cells(row, f"Annotator{n}_{t}")}
        votes.append((vote, types))
    return votes


def convabuse_record(
    source: Source, split: str, example_id: int, row: dict[str, str], votes, log: ReadLog
) -> Record | None:
    """The record of one example whose annotators agree by a majority; None (counted) otherwise."""
    counts = Counter(vote for vote, _ in votes)
    kind = next((vote for vote, n in counts.items() if 2 * n > len(votes) and vote != "ambiguous"), None)
    user, agent = row["user"].strip(), row["agent"].strip() or None
    if kind is None:
        log.exclude("annotators split (no majority for abusive or not abusive)")
        return None
    if names_a_user(user, agent):
        log.exclude(NAMES_A_USER_REASON)
        return None
    abusive = [types for vote, types in votes if vote == "abusive"]
    types = [t for t in CONVABUSE_TYPES if kind == "abusive" and 2 * sum(t in ts for ts in abusive) >= len(abusive)]
    return Record(
        id=f"{source.name}:{example_id}",
        text=user,
        parent_text=agent,
        label=source.mapping[kind],
        source=source.name,
        tags=(*split_tags(source, split), f"convabuse_bot:{row['bot'].strip()}", *(f"abuse_type:{t}" for t in types)),
    )


def read_convabuse(folder: Path, source: Source, log: ReadLog) -> Iterator[Record]:
    """ConvAbuse: a user's message to a chatbot, with the bot's turn it answers as parent_text; abusive by a
    majority of its annotators → harassing, not abusive by a majority → neutral, no majority → left out."""
    if missing := {"abusive", "not_abusive"} - source.mapping.keys():
        raise DataError(f"sources table: [{source.name}] mapping lacks {sorted(missing)}")
    required = ("example_id", "agent", "user", "bot", *(f"Annotator1_is_abuse.{s}" for s in CONVABUSE_SEVERITY))
    for split, name in CONVABUSE_FILES.items():
        path = require_file(folder, name)
        for line, row in iter_csv_rows(path, required, log):
            if not row["user"].strip():
                log.skip(path, line, "empty text")
                continue
            try:
                example_id = int(float(row["example_id"]))
                votes = convabuse_votes(row)
            except (KeyError, ValueError) as exc:
                log.skip(path, line, f"malformed annotation ({exc})")
                continue
            if not votes:
                log.skip(path, line, "no annotation")
                continue
            log.read(path)
            if record := convabuse_record(source, split, example_id, row, votes, log):
                yield record


Adapter = Callable[[Path, Source, ReadLog], Iterator[Record]]

ADAPTERS: dict[str, Adapter] = {
    "edos": read_edos,
    "tweeteval_hate": read_tweeteval,
    "tweeteval_offensive": read_tweeteval,
    "misogyny_reddit": read_misogyny_reddit,
    "crowdcounter": read_crowdcounter,
    "mlma": read_mlma,
    "told_br": read_told_br,
    "convabuse": read_convabuse,
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
