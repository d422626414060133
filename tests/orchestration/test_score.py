"""`withyou score`: the server's Classifier over a file, every bad row in the rejects file, resumable after kill -9."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from withyou.bundle import Classifier, Item
from withyou.language import language_counts

SECRET = "a sentence that must never leave the input file"


def posts(count: int) -> list[dict]:
    """Reply/post pairs in the label guide's voice, with unique ids."""
    texts = [
        ("me too. my manager, 2019. never told anyone", None),
        ("Sure you were.", "me too. my manager, 2019. never told anyone"),
        ("I believe you, and it was not your fault.", "it happened at a party"),
        ("the meeting moved to thursday", None),
        ("nobody would touch you anyway", "I was groped on the train"),
    ]
    return [{"id": f"p{i}", "text": texts[i % 5][0] + f" #{i}", "parent_text": texts[i % 5][1]} for i in range(count)]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def score(*args: str) -> object:
    return CliRunner().invoke(app, ["score", *args, "--no-progress"], catch_exceptions=False)


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_jsonl_results_match_the_classifier_and_the_http_shape(fp32_bundle, tmp_path):
    rows = posts(40)
    result = score(str(write_jsonl(tmp_path / "in.jsonl", rows)), "-o", str(tmp_path / "out.jsonl"),
                   "--bundle", str(fp32_bundle), "--chunk-rows", "7")  # fmt: skip
    assert result.exit_code == 0, result.output

    out = read_jsonl(tmp_path / "out.jsonl")
    expected = Classifier.from_bundle(fp32_bundle).predict([Item(**row) for row in rows])
    assert [r["id"] for r in out] == [row["id"] for row in rows]
    assert [(r["label"], r["action"]) for r in out] == [(p.label, p.action) for p in expected]
    assert list(out[0]) == ["id", "label", "scores", "action", "model_version", "lang", "lang_confidence", "reason", "stage"]
    assert [(r["lang"], r["reason"]) for r in out] == [(p.lang, p.reason) for p in expected]
    for row, prediction in zip(out, expected):
        assert row["scores"] == pytest.approx(prediction.scores, abs=1e-5)
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["scored"] == 40 and summary["rejected"] == 0 and summary["model_version"] == "tiny-test"
    assert sum(summary["labels"].values()) == 40 and sum(summary["actions"].values()) == 40
    assert summary["languages"] == language_counts([p.lang for p in expected])  # counts by language (issue 14)
    assert "languages {" in result.output
    assert "scored 40 texts" in result.output and "texts/s" in result.output


def test_bad_rows_go_to_the_rejects_file_with_their_reason_and_the_run_finishes(tiny_bundle, tmp_path):
    rows = [
        {"id": "good-1", "text": "thank you for telling me"},
        {"id": "empty", "text": "   "},
        {"id": "number", "text": 42},
        {"text": SECRET},
        {"id": "long", "text": "x" * 5001},
        {"id": "parent-list", "text": "fine", "parent_text": ["not", "a", "string"]},
        "this line is not JSON " + SECRET,
        "[1, 2]",
        {"id": "good-1", "text": SECRET},
        {"id": True, "text": "a boolean is not an id"},
        {"id": "good-2", "text": "the bus was late", "parent_text": "   "},
    ]
    result = score(str(write_jsonl(tmp_path / "in.jsonl", rows)), "-o", str(tmp_path / "out.jsonl"),
                   "--bundle", str(tiny_bundle))  # fmt: skip
    assert result.exit_code == 0, result.output

    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == ["good-1", "good-2"]
    rejects = read_jsonl(tmp_path / "out.jsonl.rejects.jsonl")
    assert rejects == [
        {"row": 2, "id": "empty", "reason": "text is empty or whitespace"},
        {"row": 3, "id": "number", "reason": "text must be a string, got int"},
        {"row": 4, "id": None, "reason": "missing id"},
        {"row": 5, "id": "long", "reason": "text is 5001 characters, over the limit of 5000"},
        {"row": 6, "id": "parent-list", "reason": "parent_text must be a string, got list"},
        {"row": 7, "id": None, "reason": "malformed JSON (Expecting value at column 1)"},
        {"row": 8, "id": None, "reason": "expected a JSON object, got list"},
        {"row": 9, "id": "good-1", "reason": "duplicate id (an earlier row has it)"},
        {"row": 10, "id": None, "reason": "id must be a string, got bool"},
    ]
    summary = json.loads((tmp_path / "out.jsonl.summary.json").read_text())
    assert summary["rejected"] == 9 and summary["reject_reasons"]["text is N characters, over the limit of N"] == 1
    for path in (tmp_path / "out.jsonl.rejects.jsonl", tmp_path / "out.jsonl.summary.json"):
        assert SECRET not in path.read_text(encoding="utf-8")
    assert SECRET not in result.output


def test_csv_in_parquet_out_with_configured_column_names(tiny_bundle, tmp_path):
    source = tmp_path / "in.csv"
    source.write_text('post_id,body,reply_to\nc1,"a post, with a comma",\nc2,"Sure you were.","me too"\nc3,,\n',
                      encoding="utf-8")  # fmt: skip
    result = score(str(source), "-o", str(tmp_path / "out.parquet"), "--bundle", str(tiny_bundle),
                   "--id-column", "post_id", "--text-column", "body", "--parent-column", "reply_to")  # fmt: skip
    assert result.exit_code == 0, result.output

    table = pq.read_table(tmp_path / "out.parquet")
    labels = Classifier.from_bundle(tiny_bundle).labels
    assert table.column_names == ["id", "label", *(f"score_{label}" for label in labels), "action", "model_version",
                                  "lang", "lang_confidence", "reason", "stage"]  # fmt: skip
    assert table.column("id").to_pylist() == ["c1", "c2"]
    assert read_jsonl(tmp_path / "out.parquet.rejects.jsonl") == [{"row": 3, "id": "c3", "reason": "missing body"}]


def test_parquet_in_csv_out_flattens_scores(tiny_bundle, tmp_path):
    rows = posts(12)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    result = score(str(tmp_path / "in.parquet"), "-o", str(tmp_path / "out.csv"), "--bundle", str(tiny_bundle))
    assert result.exit_code == 0, result.output

    lines = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("id,label,score_") and lines[0].endswith(",action,model_version,lang,lang_confidence,reason,stage")
    assert [line.split(",")[0] for line in lines[1:]] == [row["id"] for row in rows]


def test_an_existing_output_is_refused_without_resume(tiny_bundle, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", posts(3))
    (tmp_path / "out.jsonl").write_text('{"id": "p0"}\n', encoding="utf-8")
    result = score(str(source), "-o", str(tmp_path / "out.jsonl"), "--bundle", str(tiny_bundle))
    assert result.exit_code == 2 and "pass --resume" in result.output


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_resume_after_kill_9_finishes_with_no_duplicate_and_no_missing_id(tiny_bundle, tmp_path, suffix):
    rows = posts(200) + [{"id": "bad", "text": ""}, {"id": "p3", "text": "a second p3, after the kill point"}]
    source, output = write_jsonl(tmp_path / "in.jsonl", rows), tmp_path / f"out{suffix}"
    command = [sys.executable, "-P", "-m", "orchestration.cli", "score", str(source), "-o", str(output),
               "--bundle", str(tiny_bundle), "--chunk-rows", "8", "--no-progress"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(done_ids(output)) < 40:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    before = done_ids(output)
    assert 40 <= len(before) < 200, "the kill should land mid-run"
    if suffix == ".jsonl":
        with open(output, "a", encoding="utf-8") as handle:  # what a kill inside a write leaves behind
            handle.write('{"id": "p39')
    else:
        (output / "part-99999.parquet.tmp").write_bytes(b"PAR1 unfinished")

    result = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]

    ids = all_ids(output)
    assert len(ids) == len(set(ids)) == 200
    assert set(ids) == {row["id"] for row in rows[:200]}
    assert read_jsonl(Path(f"{output}.rejects.jsonl")) == [
        {"row": 201, "id": "bad", "reason": "text is empty or whitespace"},
        {"row": 202, "id": "p3", "reason": "duplicate id (an earlier row has it)"},
    ]
    assert f"skipped {len(before)} already done" in result.stdout


def all_ids(output: Path) -> list[str]:
    if output.is_dir():
        return [i for part in sorted(output.glob("part-*.parquet")) for i in pq.read_table(part).column("id").to_pylist()]
    return [json.loads(line)["id"] for line in output.read_text(encoding="utf-8").splitlines()]


def done_ids(output: Path) -> list[str]:
    """Ids in whole lines / finished parts, read without touching the file the job is writing."""
    if output.suffix == ".parquet":
        return all_ids(output) if output.is_dir() else []
    if not output.is_file():
        return []
    text = output.read_text(encoding="utf-8")
    return [json.loads(line)["id"] for line in text[: text.rfind("\n") + 1].splitlines()]


def test_limit_stops_after_that_many_input_rows_without_a_progress_bar(tiny_bundle, tmp_path):
    result = score(str(write_jsonl(tmp_path / "in.jsonl", posts(30))), "-o", str(tmp_path / "out.jsonl"),
                   "--bundle", str(tiny_bundle), "--chunk-rows", "4", "--limit", "10")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in read_jsonl(tmp_path / "out.jsonl")] == [f"p{i}" for i in range(10)]
