"""Files for `withyou score`: JSONL, CSV and Parquet read in chunks, results appended chunk by chunk.

Reading never loads a whole file: JSONL and CSV are read line by line (a line over LINE_LIMIT bytes is refused
without being kept), Parquet batch by batch (pyarrow), and the caller gets chunks of `(row, value)` pairs, where
`row` is the 1-based data row (a JSONL line number, a CSV record number, a Parquet row) and `value` is a dict of the
row's fields or, for a row that is not a record at all, the reason it was refused. A UTF-8 BOM opening the file is
dropped.

CSV is read strictly (csv's `strict=True`): a quoted field may span lines, but a record whose quoting is broken —
a quote still open at the end of the file or after LINE_LIMIT bytes, text after a closing quote — is refused as one
row, and the lines after its first line are read again as records of their own. So an unclosed quote costs its own
row, never silently merges the rows after it into one text. (A stray quote further down that happens to close it
cleanly cannot be told from a post with line breaks.) A record with more or fewer fields than the header is refused.

Writing appends: JSONL and CSV a line per result, Parquet one part file per chunk in an output directory (written
to a temporary name, then renamed). A CSV cell that begins with = + - @ tab, CR or ' gets one leading ' so that a
spreadsheet shows it instead of running it (OWASP, CSV injection); `from_csv_cell` undoes it. After a crash
(kill -9) an output holds whole chunks plus, for a line format, at most one partial last line. `--resume` first
checks, without touching anything, that the output is a WithYou output of the same model version and columns
(`done_ids`) and that the rejects file is one (`done_rejects`); only then does it cut the partial line
(`cut_partial_line`) or drop unfinished Parquet parts, so it neither repeats nor misses a row.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

FORMATS = ("jsonl", "csv", "parquet")
RESULT_TAIL = ("action", "model_version", "lang", "lang_confidence", "reason", "stage")  # after id, label, score_<label>…
LINE_LIMIT = 16 * 1024 * 1024  # bytes: a longer line or CSV field is a broken file (an unclosed quote), not a post
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")  # a CSV cell starting so gets a leading '
PART_NAME = re.compile(r"part-\d{5}\.parquet(\.tmp)?")

Chunk = list[tuple[int, "dict[str, Any] | str"]]


def detect_format(path: Path, override: str | None = None) -> str:
    """The file format from `override` or the name: .jsonl/.ndjson/.json, .csv, .parquet/.pq or a directory."""
    if override:
        if override not in FORMATS:
            raise ValueError(f"unknown format {override!r}; use one of {', '.join(FORMATS)}")
        return override
    suffix = Path(path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    if suffix in (".parquet", ".pq") or Path(path).is_dir():
        return "parquet"
    raise ValueError(f"cannot tell the format of {path} from its name; pass --input-format/--output-format")


def read_chunks(path: Path, fmt: str, columns: list[str], chunk_rows: int) -> Iterator[Chunk]:
    """Chunks of at most `chunk_rows` rows of `path`, each row a dict of `columns` or a refusal reason."""
    rows = {"jsonl": _jsonl_rows, "csv": _csv_rows, "parquet": _parquet_rows}[fmt](Path(path), columns, chunk_rows)
    chunk: Chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= chunk_rows:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class LineTooLong(Exception):
    """A line over LINE_LIMIT bytes: a broken file (an unclosed quote, a missing newline), never one post."""

    def __str__(self) -> str:
        return f"a line over {LINE_LIMIT} bytes"


def _lines(handle: io.BufferedReader) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes) for each line of a binary file, None for a line over LINE_LIMIT (read past, not kept);
    a UTF-8 BOM opening the file is dropped."""
    number = 0
    while raw := handle.readline(LINE_LIMIT + 1):
        number += 1
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if len(raw) > LINE_LIMIT and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                raw = handle.readline(1 << 20)
            yield number, None
        else:
            yield number, raw


def _jsonl_rows(path: Path, columns: list[str], chunk_rows: int) -> Iterator[tuple[int, dict | str]]:
    with open(path, "rb") as handle:
        for number, raw in _lines(handle):
            if raw is None:
                yield number, str(LineTooLong())
            elif raw.strip():
                yield number, json_record(raw)


def json_record(raw: bytes) -> dict | str:
    """A JSON line's object, or why it is not one (never quoting the line)."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return f"not valid UTF-8 (byte {exc.start})"
    except json.JSONDecodeError as exc:
        return f"malformed JSON ({exc.msg} at column {exc.colno})"
    except RecursionError:
        return "malformed JSON (nested too deeply)"
    except ValueError:  # an integer longer than sys.get_int_max_str_digits()
        return "malformed JSON (a number with too many digits)"
    return value if isinstance(value, dict) else f"expected a JSON object, got {type(value).__name__}"


class _LineFeed:
    """Decoded lines for csv.reader that remembers the lines of the record being read, so that a broken record's
    lines after its first can be read again (`read_again`)."""

    def __init__(self, handle: io.BufferedReader) -> None:
        self.lines, self.again, self.taken = _lines(handle), deque(), []

    def __iter__(self) -> _LineFeed:
        return self

    def __next__(self) -> str:
        number, raw = self.again.popleft() if self.again else next(self.lines)
        self.taken.append((number, raw))
        if raw is None:
            raise LineTooLong
        return raw.decode("utf-8", errors="surrogateescape")  # bad bytes become lone surrogates, refused below

    def read_again(self) -> None:
        self.again.extendleft(reversed(self.taken[1:]))


def _csv_rows(path: Path, columns: list[str], chunk_rows: int) -> Iterator[tuple[int, dict | str]]:
    csv.field_size_limit(LINE_LIMIT)
    with open(path, "rb") as handle:
        feed = _LineFeed(handle)
        reader = csv.reader(feed, strict=True)
        try:
            header = next(reader, None)
        except (csv.Error, LineTooLong) as exc:
            raise ValueError(f"{path}: the CSV header is broken ({exc}); fix the file") from None
        row = 0
        while header is not None:
            feed.taken = []
            try:
                fields = next(reader)
            except StopIteration:
                return
            except (csv.Error, LineTooLong) as exc:
                feed.read_again()
                row += 1
                problem = str(exc).split(" - ")[0]  # csv's "- do you need newline=''" hint is for the programmer
                line = feed.taken[0][0]
                yield row, f"broken CSV record at line {line} ({problem}; the lines after it are read again)"
                continue
            if fields:  # a blank line is no record
                row += 1
                yield row, _csv_record(fields, header)


def _csv_record(fields: list[str], header: list[str]) -> dict | str:
    if len(fields) != len(header):
        return f"record has {len(fields)} fields, the header has {len(header)}"
    if any(lone_surrogate(value) for value in fields):
        return "not valid UTF-8"
    # csv gives no types: an empty cell is a missing value, as in the other formats
    return {name: (value if value != "" else None) for name, value in zip(header, fields)}


def lone_surrogate(value: str) -> str | None:
    """Where `value` holds a lone surrogate ("U+D800 at character 5") — text no UTF-8 file or tokenizer takes."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        return f"U+{ord(value[exc.start]):04X} at character {exc.start + 1}"
    return None


def _parquet_rows(path: Path, columns: list[str], chunk_rows: int) -> Iterator[tuple[int, dict | str]]:
    import pyarrow.dataset as ds

    dataset = ds.dataset(str(path), format="parquet")
    present = [name for name in columns if name in dataset.schema.names]
    row = 0
    for batch in dataset.to_batches(columns=present, batch_size=chunk_rows):
        for record in batch.to_pylist():
            row += 1
            yield row, record


def parquet_row_count(path: Path) -> int | None:
    import pyarrow.dataset as ds

    return ds.dataset(str(path), format="parquet").count_rows()


def flat_row(result: dict[str, Any]) -> dict[str, Any]:
    """A result with `scores` spread into `score_<label>` columns (CSV and Parquet have no nested objects):
    id, label, score_<label>…, action, model_version, lang, lang_confidence, reason, stage."""
    scores = {f"score_{label}": score for label, score in result["scores"].items()}
    return {"id": result["id"], "label": result["label"], **scores, **{key: result[key] for key in RESULT_TAIL}}


def csv_cell(value: Any) -> Any:
    """`value` as a CSV cell no spreadsheet runs as a formula: a string beginning with one of FORMULA_START gets one
    leading ' (so a ' already there is doubled and `from_csv_cell` gives back the value exactly)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def from_csv_cell(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def result_fields(labels: list[str]) -> list[str]:
    """The CSV and Parquet columns of a bundle with `labels`."""
    return ["id", "label", *(f"score_{label}" for label in labels), *RESULT_TAIL]


class ResultWriter:
    """Appends results to OUTPUT in its format; `write` is called once per chunk and leaves whole rows on disk."""

    def __init__(self, path: Path, fmt: str, labels: list[str]) -> None:
        self.path, self.fmt = Path(path), fmt
        self.fields = result_fields(labels)
        if fmt == "parquet":
            self.path.mkdir(parents=True, exist_ok=True)
            self.parts = len(list(self.path.glob("part-*.parquet")))
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(self.path, "a", encoding="utf-8", newline="")
            if fmt == "csv":
                self.csv = csv.DictWriter(self.handle, fieldnames=self.fields)
                if self.handle.tell() == 0:
                    self.csv.writeheader()

    def write(self, results: list[dict[str, Any]]) -> None:
        if not results:
            return
        if self.fmt == "jsonl":
            self.handle.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results))
        elif self.fmt == "csv":
            self.csv.writerows({k: csv_cell(v) for k, v in flat_row(r).items()} for r in results)
        else:
            self._write_part(results)
            return
        self.handle.flush()

    def _write_part(self, results: list[dict[str, Any]]) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        floats = {"lang_confidence"}
        types = {name: pa.float64() if name.startswith("score_") or name in floats else pa.string() for name in self.fields}
        table = pa.Table.from_pylist([flat_row(r) for r in results], schema=pa.schema(list(types.items())))
        final = self.path / f"part-{self.parts:05d}.parquet"
        temporary = final.with_suffix(".parquet.tmp")
        pq.write_table(table, temporary)
        os.replace(temporary, final)
        self.parts += 1

    def close(self) -> None:
        if self.fmt != "parquet":
            self.handle.close()


def cut_partial_line(path: Path) -> int:
    """Truncate a line file after its last newline (what a kill -9 mid-write leaves); returns bytes removed."""
    path = Path(path)
    if not path.is_file():
        return 0
    size = path.stat().st_size
    with open(path, "rb+") as handle:
        end = size
        while end > 0:
            step = min(1 << 16, end)
            handle.seek(end - step)
            block = handle.read(step)
            newline = block.rfind(b"\n")
            if newline >= 0:
                end = end - step + newline + 1
                break
            end -= step
        handle.truncate(end)
    return size - end


def remove_unfinished_parts(path: Path) -> None:
    for unfinished in Path(path).glob("*.parquet.tmp"):
        unfinished.unlink()


class IdSet:
    """A set of ids kept on disk (SQLite in a temporary file), so the ids a run has seen — one per input row, for
    duplicates and --resume — never grow the process's memory with the input's size."""

    def __init__(self) -> None:
        import sqlite3
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="withyou-score-ids-")
        self._db = sqlite3.connect(Path(self._dir.name) / "ids.db", isolation_level=None)
        self._db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; CREATE TABLE ids (id TEXT PRIMARY KEY)")

    def __contains__(self, item_id: object) -> bool:
        if item_id is None:
            return False
        return self._db.execute("SELECT 1 FROM ids WHERE id = ?", (item_id,)).fetchone() is not None

    def add(self, item_id: str) -> None:
        self._db.execute("INSERT OR IGNORE INTO ids VALUES (?)", (item_id,))

    def update(self, item_ids: Iterable[str]) -> None:
        self._db.executemany("INSERT OR IGNORE INTO ids VALUES (?)", ((i,) for i in item_ids))

    def close(self) -> None:
        self._db.close()
        self._dir.cleanup()


class NotResumable(ValueError):
    """OUTPUT or the rejects file is not what this run would have written; the message says why, never quoting it.
    A ValueError, so the command answers it with one line and exit code 2."""


def done_ids(path: Path, fmt: str, labels: list[str], model_version: str) -> IdSet:
    """Ids already in OUTPUT, after checking, without touching it, that every row is a result of `model_version`
    with `labels`' columns (NotResumable otherwise); a partial last line or an unfinished Parquet part is allowed
    (the caller removes it)."""
    path, ids = Path(path), IdSet()
    try:
        if fmt == "parquet" and path.is_dir():
            ids.update(_parquet_ids(path, result_fields(labels), model_version))
        elif fmt != "parquet" and path.is_file():
            ids.update((_csv_ids if fmt == "csv" else _jsonl_ids)(path, labels, model_version))
    except BaseException:
        ids.close()
        raise
    return ids


def _not_ours(path: Path, why: str) -> NotResumable:
    return NotResumable(f"--resume refused: {path} is not a WithYou output with this model's columns ({why}); "
                        "it was left as it is — choose another output")  # fmt: skip


def _other_version(path: Path, found: Any, model_version: str) -> NotResumable:
    return NotResumable(f"--resume refused: {path} holds results of model version {str(found)[:80]!r}, this "
                        f"run's model is {model_version!r}; resume with that model's bundle, or choose another "
                        "output")  # fmt: skip


def _lines_of(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes) of each line of a file written by this module, newline kept (the last line lacks it
    after a kill mid-write)."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(iter(lambda: handle.readline(LINE_LIMIT + 1), b""), start=1):
            if len(raw) > LINE_LIMIT:
                raise NotResumable(f"{path} is not a file withyou score wrote (line {number} is over {LINE_LIMIT} "
                                   "bytes); it was left as it is")  # fmt: skip
            yield number, raw


def _partial(raw: bytes, opening: bytes) -> bool:
    """Whether `raw`, a last line without its newline, can be what a kill left of a line beginning `opening`."""
    return not raw.endswith(b"\n") and (raw.startswith(opening) or opening.startswith(raw))


def _jsonl_ids(path: Path, labels: list[str], model_version: str) -> Iterator[str]:
    keys = ["id", "label", "scores", *RESULT_TAIL]
    for number, raw in _lines_of(path):
        if _partial(raw, b'{"id": '):
            return
        value = json_record(raw)
        if isinstance(value, str) or list(value) != keys or not isinstance(value["id"], str):
            raise _not_ours(path, f"line {number} is not a result")
        if not isinstance(value["scores"], dict) or list(value["scores"]) != labels:
            raise _not_ours(path, f"line {number} scores other labels")
        if value["model_version"] != model_version:
            raise _other_version(path, value["model_version"], model_version)
        yield value["id"]


def _csv_ids(path: Path, labels: list[str], model_version: str) -> Iterator[str]:
    fields = result_fields(labels)
    header = (",".join(fields) + "\r\n").encode("utf-8")  # csv.DictWriter's line ends

    def whole_lines() -> Iterator[str]:
        for number, raw in _lines_of(path):
            if not raw.endswith(b"\n"):  # a kill mid-write: anything after the header, a start of it before
                if number == 1 and not _partial(raw, header):
                    raise _not_ours(path, "another header")
                return
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError:
                raise _not_ours(path, f"line {number} is not UTF-8") from None

    reader = csv.reader(whole_lines(), strict=True)
    try:
        if next(reader, fields) != fields:
            raise _not_ours(path, "another header")
        for record in reader:
            if len(record) != len(fields):
                raise _not_ours(path, f"line {reader.line_num} has {len(record)} fields, not {len(fields)}")
            version = from_csv_cell(record[fields.index("model_version")])
            if version != model_version:
                raise _other_version(path, version, model_version)
            yield from_csv_cell(record[0])
    except csv.Error as exc:
        raise _not_ours(path, f"CSV error at line {reader.line_num}: {exc}") from None


def _parquet_ids(path: Path, fields: list[str], model_version: str) -> Iterator[str]:
    import pyarrow.parquet as pq

    strangers = [entry.name for entry in path.iterdir() if not PART_NAME.fullmatch(entry.name)]
    if strangers:
        raise _not_ours(path, f"{len(strangers)} entries are not part-NNNNN.parquet files")
    for part in sorted(path.glob("part-*.parquet")):
        try:
            table = pq.read_table(part)
        except Exception as exc:  # pyarrow's errors have no common base; any means "not a part we wrote"
            raise _not_ours(path, f"{part.name} is not readable Parquet: {type(exc).__name__}") from None
        if table.column_names != fields:
            raise _not_ours(path, f"{part.name} has other columns")
        versions = set(table.column("model_version").to_pylist()) - {model_version}
        if versions:
            raise _other_version(path, versions.pop(), model_version)
        yield from table.column("id").to_pylist()


def done_rejects(path: Path) -> set[int]:
    """Input rows already in a rejects file (JSONL of {"row", "id", "reason"}), after checking, without touching it,
    that it is one (NotResumable otherwise); a partial last line is allowed (the caller cuts it)."""
    path, rows = Path(path), set()
    if not path.is_file():
        return rows
    for number, raw in _lines_of(path):
        if _partial(raw, b'{"row": '):
            break
        value = json_record(raw)
        if isinstance(value, str) or list(value) != ["row", "id", "reason"] or not _row_number(value["row"]):
            raise NotResumable(f"{path} is not a WithYou rejects file (line {number} is not a reject); it was left "
                               "as it is — choose another --rejects")  # fmt: skip
        rows.add(value["row"])
    return rows


def _row_number(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))  # None: a Spark run's rejects


def append_jsonl(handle: io.TextIOBase, rows: list[dict[str, Any]]) -> None:
    if rows:
        handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        handle.flush()
