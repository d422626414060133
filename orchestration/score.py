"""The `withyou score` job: classify a file of posts with the same Classifier as the server.

Input: JSONL, CSV or Parquet with an id, a text and optionally a parent text (column names configurable).
Output (format from the name, or --output-format), one result per accepted row, in input order:

    jsonl     {"id", "label", "scores": {label: p}, "action", "model_version", "lang", "lang_confidence", "reason",
              "stage"}
              — what POST /classify answers (without `explanation`)
    csv       id, label, score_<label> for each label of the bundle, action, model_version, lang, lang_confidence,
              reason, stage
    parquet   a directory of part-NNNNN.parquet files with the csv columns (one part per chunk)

Bad rows never stop the run: each goes to the rejects file (default OUTPUT.rejects.jsonl) as {"row", "id",
"reason"} — the row number and id, never the text (the id is null when the id itself is the problem). Reasons: not a
record (malformed or too deeply nested JSON, not UTF-8, a line over score_io.LINE_LIMIT bytes, a broken CSV
record, a CSV record with more or fewer fields than the header), missing id, an id that is not a string (as in
POST /classify: 5 is refused, not turned into "5"), an id with a control or invisible character (NUL, tab, CR,
bidi controls, zero-width), duplicate id, missing, wrong-typed, empty or over-long text, wrong-typed or over-long
parent, a text or parent with a lone surrogate (a JSON "\\ud800" escape). A summary (counts per label, action,
language and reject reason, model version, time) is printed and written to OUTPUT.summary.json.

Memory stays flat in the input's size: rows are read, scored and written a chunk at a time, and the ids seen
(duplicate detection and --resume) live in a temporary SQLite file (score_io.IdSet). `--resume` appends to an existing
output, skipping rows already rejected and, for each id already there, its first good row (the one that was
scored; a later row with that id is still a duplicate). It first checks that OUTPUT is a WithYou output of this
run's model version and columns and that the rejects file is a rejects file, and refuses (exit 2, the files left
as they are) if not; only then does it cut a partial last line (what a crash mid-write leaves). A run without
--resume likewise refuses to delete a rejects file that is not one.

`--engine spark` runs the same model through mlflow.pyfunc.spark_udf (orchestration/spark.py); the command
itself is orchestration/score_cli.py.
"""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestration import score_io
from withyou.language import language_counts

DEFAULT_CHUNK_ROWS = 1024


@dataclass
class Columns:
    id: str = "id"
    text: str = "text"
    parent_text: str = "parent_text"


@dataclass
class ScoreSummary:
    """What a score run did; `as_dict` is what OUTPUT.summary.json holds."""

    model_version: str = "unknown"
    engine: str = "local"
    scored: int = 0
    rejected: int = 0
    skipped_already_done: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0
    labels: Counter = field(default_factory=Counter)
    actions: Counter = field(default_factory=Counter)
    languages: Counter = field(default_factory=Counter)
    """Scored posts by detected language (withyou.language.language_counts; "und" when a post has no letters)."""
    reject_reasons: Counter = field(default_factory=Counter)

    @property
    def texts_per_s(self) -> float:
        """Scoring rate after the model has loaded (read, validate, score, write)."""
        busy = self.seconds - self.load_seconds
        return self.scored / busy if busy > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        for key in ("labels", "actions", "languages", "reject_reasons"):
            out[key] = dict(sorted(out[key].items()))
        out["texts_per_s"] = round(self.texts_per_s, 1)
        out["seconds"] = round(self.seconds, 2)
        out["load_seconds"] = round(self.load_seconds, 2)
        return out


def reason_kind(reason: str) -> str:
    """A reason without its details, for counting: "text is 6012 characters, over the limit of 5000" → "text is N
    characters, over the limit of N"; "malformed JSON (… at column 3)" → "malformed JSON"."""
    return re.sub(r"(?<![\w-])\d+", "N", reason.split(" (")[0])


def check_row(value: dict[str, Any] | str, columns: Columns, max_chars: int) -> tuple[str | None, dict | str]:
    """(id or None, item dict) for a good row, (id or None, reason) for a bad one. Reasons never quote the text."""
    if isinstance(value, str):
        return None, value
    item_id = value.get(columns.id)
    if item_id is None:
        return None, f"missing {columns.id}"
    if not isinstance(item_id, str):
        return None, f"{columns.id} must be a string, got {type(item_id).__name__}"
    if not item_id.strip():
        return None, f"missing {columns.id}"
    if where := unsafe_character(item_id):
        return None, f"{columns.id} has a control or invisible character ({where})"
    text, parent = value.get(columns.text), value.get(columns.parent_text)
    if text is None:
        return item_id, f"missing {columns.text}"
    if not isinstance(text, str):
        return item_id, f"{columns.text} must be a string, got {type(text).__name__}"
    if not text.strip():
        return item_id, f"{columns.text} is empty or whitespace"
    if len(text) > max_chars:
        return item_id, f"{columns.text} is {len(text)} characters, over the limit of {max_chars}"
    if where := score_io.lone_surrogate(text):
        return item_id, f"{columns.text} has a lone surrogate ({where}), which is no text"
    if parent is not None and not isinstance(parent, str):
        return item_id, f"{columns.parent_text} must be a string, got {type(parent).__name__}"
    if parent is not None and len(parent) > max_chars:
        return item_id, f"{columns.parent_text} is {len(parent)} characters, over the limit of {max_chars}"
    if parent is not None and (where := score_io.lone_surrogate(parent)):
        return item_id, f"{columns.parent_text} has a lone surrogate ({where}), which is no text"
    return item_id, {"id": item_id, "text": text, "parent_text": parent if parent and parent.strip() else None}


def unsafe_character(item_id: str) -> str | None:
    """Where an id holds a character that has no place in a key ("U+202E at character 3"): a control (Cc: NUL,
    tab, CR, LF, DEL, C1), an invisible format character (Cf: bidi controls, zero-width, BOM), a lone surrogate
    (Cs) or a line/paragraph separator — they hide, reorder or break an id where a person or a file reads it."""
    for position, character in enumerate(item_id, start=1):
        if unicodedata.category(character) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            return f"U+{ord(character):04X} at character {position}"
    return None


@dataclass
class ScoreJob:
    """One local score run; `run` reads INPUT chunk by chunk and appends to OUTPUT and the rejects file."""

    input: Path
    output: Path
    bundle_dir: Path
    input_format: str
    output_format: str
    rejects: Path
    columns: Columns = field(default_factory=Columns)
    max_text_chars: int | None = None  # None: the server's limit (serving/config.py declares it once)
    chunk_rows: int = DEFAULT_CHUNK_ROWS
    resume: bool = False
    limit: int | None = None
    progress: bool = True
    thresholds: dict[str, float] = field(default_factory=dict)
    ort_threads: int | None = None
    input_uri: str = ""  # as given: the Spark engine also reads and writes URIs (hdfs://, s3a://) Path would mangle
    output_uri: str = ""

    def __post_init__(self) -> None:
        self.input_uri, self.output_uri = self.input_uri or str(self.input), self.output_uri or str(self.output)
        if self.max_text_chars is None:
            from serving.config import ServingSettings

            self.max_text_chars = ServingSettings.model_fields["max_text_chars"].default

    def run(self) -> ScoreSummary:
        from tqdm import tqdm

        from withyou.bundle import Classifier

        started = time.perf_counter()
        classifier = Classifier.from_bundle(self.bundle_dir, intra_op_threads=self.ort_threads)
        thresholds = None
        if self.thresholds:  # same validation (review <= hide) as the server's overrides
            thresholds = type(classifier.thresholds).model_validate(
                classifier.thresholds.model_dump() | self.thresholds | {"source": "config"}
            )
        summary = ScoreSummary(model_version=classifier.model_version, load_seconds=time.perf_counter() - started)
        done, skip_rows = self.prepare_outputs(classifier.labels, classifier.model_version)
        seen = score_io.IdSet()
        writer = score_io.ResultWriter(self.output, self.output_format, classifier.labels)
        total = score_io.parquet_row_count(self.input) if self.input_format == "parquet" else None
        bar = tqdm(total=self.limit or total, unit=" texts", unit_scale=True, disable=not self.progress, file=sys.stderr)
        names, rows_read = [self.columns.id, self.columns.text, self.columns.parent_text], 0
        try:
            with open(self.rejects, "a", encoding="utf-8") as rejects:
                for chunk in score_io.read_chunks(self.input, self.input_format, names, self.chunk_rows):
                    if self.limit is not None:
                        chunk = chunk[: max(0, self.limit - rows_read)]
                    accepted, refused = self.sort_chunk(chunk, done, seen, skip_rows, summary)
                    score_io.append_jsonl(rejects, refused)  # before the results: a crash between is re-rejected
                    self.score_accepted(accepted, classifier, thresholds, writer, summary)
                    rows_read += len(chunk)
                    bar.update(len(chunk))
                    if self.limit is not None and rows_read >= self.limit:
                        break
        finally:
            writer.close()
            bar.close()
            done.close()
            seen.close()
        summary.seconds = time.perf_counter() - started
        return summary

    def prepare_outputs(self, labels: list[str], model_version: str) -> tuple[score_io.IdSet, set[int]]:
        """Ids already scored and rows already rejected (--resume). Both files are checked before either is touched
        (score_io.NotResumable); then a partial last line is cut and unfinished Parquet parts are removed."""
        if self.output_format == "parquet":
            exists = self.output.is_dir() and any(self.output.iterdir())
        else:
            exists = self.output.is_file() and self.output.stat().st_size > 0
        if not self.resume:
            if exists:
                raise FileExistsError(f"{self.output} exists; pass --resume to continue it, or choose another output")
            score_io.done_rejects(self.rejects)  # refuses to delete a file that is not a rejects file
            self.rejects.unlink(missing_ok=True)
            return score_io.IdSet(), set()
        done = score_io.done_ids(self.output, self.output_format, labels, model_version)
        try:
            skip_rows = score_io.done_rejects(self.rejects)
        except BaseException:
            done.close()
            raise
        if self.output_format == "parquet":
            score_io.remove_unfinished_parts(self.output)
        else:
            score_io.cut_partial_line(self.output)
        score_io.cut_partial_line(self.rejects)
        return done, skip_rows

    def sort_chunk(self, chunk, done: score_io.IdSet, seen: score_io.IdSet, skip_rows: set[int], summary: ScoreSummary):
        """Split a chunk into items to score and rejects; skip what a previous run (--resume) already wrote."""
        accepted, refused = [], []
        for row, value in chunk:
            item_id, checked = check_row(value, self.columns, self.max_text_chars)
            # an id in the output was scored at its first good row; a later row with it is still a duplicate
            if row in skip_rows or (item_id in done and item_id not in seen and not isinstance(checked, str)):
                if item_id is not None and row not in skip_rows:
                    seen.add(item_id)
                summary.skipped_already_done += 1
                continue
            if not isinstance(checked, str) and item_id in seen:
                checked = f"duplicate {self.columns.id} (an earlier row has it)"
            if isinstance(checked, str):
                refused.append({"row": row, "id": item_id, "reason": checked})
                summary.reject_reasons[reason_kind(checked)] += 1
                continue
            seen.add(item_id)
            accepted.append(checked)
        summary.rejected += len(refused)
        return accepted, refused

    def score_accepted(self, accepted, classifier, thresholds, writer, summary: ScoreSummary) -> None:
        if not accepted:
            return
        predictions = classifier.predict(accepted, thresholds)
        results = [p.as_result(summary.model_version) for p in predictions]
        writer.write(results)
        summary.scored += len(results)
        summary.labels.update(r["label"] for r in results)
        summary.actions.update(r["action"] for r in results)
        summary.languages.update(language_counts([r["lang"] for r in results]))
