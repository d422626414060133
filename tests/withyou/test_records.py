"""The record schema and the JSONL reader: strict errors name file:line, tolerant reads skip and report."""

from __future__ import annotations

import pytest

from withyou.records import DataError, ReadReport, Record, read_jsonl, write_jsonl

GOOD = '{"id": "a", "text": "I believe you.", "parent_text": null, "label": "supportive", "source": "seed"}\n'


def test_blank_parent_text_becomes_none():
    assert Record(id="a", text="hi", parent_text="   ", label="neutral", source="seed").parent_text is None


def test_unknown_label_is_rejected():
    with pytest.raises(ValueError, match="label"):
        Record(id="a", text="hi", label="spam", source="seed")


def test_whitespace_text_is_rejected():
    with pytest.raises(ValueError, match="text is empty"):
        Record(id="a", text=" \n ", label="neutral", source="seed")


def test_write_then_read_round_trips_unicode_and_split(tmp_path):
    record = Record(id="a", text="je te crois 💜", label="supportive", source="seed", split="train", group="g1")
    write_jsonl(tmp_path / "x.jsonl", [record])
    assert "💜" in (tmp_path / "x.jsonl").read_text(encoding="utf-8")
    assert read_jsonl(tmp_path / "x.jsonl") == [record]


def test_blank_lines_are_ignored(tmp_path):
    (tmp_path / "x.jsonl").write_text("\n" + GOOD + "   \n", encoding="utf-8")
    assert [r.id for r in read_jsonl(tmp_path / "x.jsonl")] == ["a"]


@pytest.mark.parametrize(
    "line, message",
    [
        (b"{not json}\n", "x.jsonl:2: malformed JSON"),
        (b"[1, 2]\n", "x.jsonl:2: expected a JSON object, got list"),
        (b'{"id": "b", "label": "neutral", "source": "seed"}\n', "x.jsonl:2: text: Field required"),
        (b'{"id": "b", "text": "t", "label": "other", "source": "seed"}\n', "x.jsonl:2: label: Input should be"),
        (b'{"id": "b", "text": "", "label": "neutral", "source": "seed"}\n', "x.jsonl:2: text: Value error"),
        (b'{"id": "b", "text": "caf\xe9", "label": "neutral", "source": "seed"}\n', "x.jsonl:2: not valid UTF-8"),
    ],
    ids=["malformed_json", "not_an_object", "missing_field", "unknown_label", "empty_text", "non_utf8"],
)
def test_bad_line_strict_raises_with_file_and_line_and_tolerant_skips(tmp_path, line, message):
    path = tmp_path / "x.jsonl"
    path.write_bytes(GOOD.encode() + line)
    with pytest.raises(DataError, match=message):
        read_jsonl(path)
    report = ReadReport(path=str(path))
    assert [r.id for r in read_jsonl(path, strict=False, report=report)] == ["a"]
    assert report.rows_read == 1 and report.skipped_count == 1 and message in report.skipped[0]
