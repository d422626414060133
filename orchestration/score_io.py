"""Files for `withyou score`: JSONL, CSV and Parquet read in chunks, results appended chunk by chunk.

Reading never loads a whole file: JSONL and CSV are read line by line, Parquet batch by batch (pyarrow), and the
caller gets chunks of `(row, value)` pairs, where `row` is the 1-based data row (a JSONL line number, a CSV
record number, a Parquet row) and `value` is a dict of the row's fields or, for a line that is not a record at
all (malformed JSON, not UTF-8), the reason it was refused.

Writing appends: JSONL and CSV a line per result, Parquet one part file per chunk in an output directory (written
to a temporary name, then renamed). After a crash (kill -9) an output holds whole chunks plus, for a line format,
at most one partial last line; `done_ids` cuts that line off and returns the ids already written, so `--resume`
neither repeats nor misses a row.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

FORMATS = ("jsonl", "csv", "parquet")
RESULT_TAIL = ("action", "model_version", "lang", "lang_confidence", "reason")  # after id, label, score_<label>…
CSV_FIELD_LIMIT = 16 * 1024 * 1024  # a CSV field larger than this is a broken file (an unclosed quote), not a post

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


def _jsonl_rows(path: Path, columns: list[str], chunk_rows: int) -> Iterator[tuple[int, dict | str]]:
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                value = json.loads(raw.decode("utf-8"))
            except UnicodeDecodeError as exc:
                yield lineno, f"not valid UTF-8 (byte {exc.start})"
                continue
            except json.JSONDecodeError as exc:
                yield lineno, f"malformed JSON ({exc.msg} at column {exc.colno})"
                continue
            yield lineno, value if isinstance(value, dict) else f"expected a JSON object, got {type(value).__name__}"


def _csv_rows(path: Path, columns: list[str], chunk_rows: int) -> Iterator[tuple[int, dict | str]]:
    csv.field_size_limit(CSV_FIELD_LIMIT)
    with open(path, encoding="utf-8", errors="surrogateescape", newline="") as handle:
        reader = csv.DictReader(handle)
        row = 0
        try:
            for row, record in enumerate(reader, start=1):
                if any(isinstance(v, str) and _has_surrogates(v) for v in record.values()):
                    yield row, "not valid UTF-8"
                    continue
                # csv gives no types: an empty cell is a missing value, as in the other formats
                yield row, {key: (value if value != "" else None) for key, value in record.items() if key is not None}
        except csv.Error as exc:
            raise ValueError(f"{path}: CSV record {row + 1} is broken ({exc}); fix the file and run with --resume") from None


def _has_surrogates(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


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
    id, label, score_<label>…, action, model_version, lang, lang_confidence, reason."""
    scores = {f"score_{label}": score for label, score in result["scores"].items()}
    return {"id": result["id"], "label": result["label"], **scores, **{key: result[key] for key in RESULT_TAIL}}


class ResultWriter:
    """Appends results to OUTPUT in its format; `write` is called once per chunk and leaves whole rows on disk."""

    def __init__(self, path: Path, fmt: str, labels: list[str]) -> None:
        self.path, self.fmt = Path(path), fmt
        self.fields = ["id", "label", *(f"score_{label}" for label in labels), *RESULT_TAIL]
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
            self.csv.writerows(flat_row(r) for r in results)
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


def done_ids(path: Path, fmt: str) -> IdSet:
    """Ids already in an output (after cutting a partial last line; dropping unfinished Parquet parts)."""
    path, ids = Path(path), IdSet()
    if fmt == "parquet":
        if not path.is_dir():
            return ids
        for unfinished in path.glob("*.parquet.tmp"):
            unfinished.unlink()
        import pyarrow.parquet as pq

        for part in sorted(path.glob("part-*.parquet")):
            ids.update(pq.read_table(part, columns=["id"]).column("id").to_pylist())
        return ids
    if not path.is_file():
        return ids
    cut_partial_line(path)
    with open(path, encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            ids.update(row["id"] for row in csv.DictReader(handle))
        else:
            ids.update(json.loads(line)["id"] for line in handle if line.strip())
    return ids


def done_rejects(path: Path) -> set[int]:
    """Input rows already in a rejects file (JSONL of {"row", "id", "reason"})."""
    path = Path(path)
    if not path.is_file():
        return set()
    cut_partial_line(path)
    with open(path, encoding="utf-8") as handle:
        return {json.loads(line)["row"] for line in handle if line.strip()}


def append_jsonl(handle: io.TextIOBase, rows: list[dict[str, Any]]) -> None:
    if rows:
        handle.write("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        handle.flush()
