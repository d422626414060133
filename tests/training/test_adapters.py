"""Public-data adapters on tiny handwritten fixture files (tests/fixtures/data), and every bad-input case."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from training.adapters import ADAPTERS, ReadLog, read_seed, read_source
from training.sources import load_sources, sha256_file
from withyou.records import DataError

FIXTURE_DATA = Path(__file__).parents[1] / "fixtures" / "data"
SOURCES = load_sources()
MIRROR = Path(__file__).parents[3] / "shared" / "data"


def read(name: str, data_dir: Path = FIXTURE_DATA, strict: bool = False) -> tuple[list, ReadLog]:
    log = ReadLog(strict)
    return list(read_source(SOURCES[name], data_dir, log)), log


def writable_copy(tmp_path: Path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(FIXTURE_DATA, target)
    return target


def test_every_table_entry_has_exactly_one_adapter():
    assert set(SOURCES) == set(ADAPTERS)


def test_edos_maps_sexist_to_harassing_and_not_sexist_to_neutral():
    records, log = read("edos")
    by_id = {r.id: r for r in records}
    assert by_id["edos:fx-edos-1"].label == "harassing"
    assert by_id["edos:fx-edos-2"].label == "neutral"
    assert Counter(r.label for r in records) == {"harassing": 3, "neutral": 3}
    assert log.skipped_count == 0


def test_edos_keeps_quoted_multiline_text_and_category_tag():
    records, _ = read("edos")
    by_id = {r.id: r for r in records}
    assert "\n" in by_id["edos:fx-edos-4"].text
    assert "edos_category:threats, plans to harm and incitement" in by_id["edos:fx-edos-6"].tags


def test_edos_upstream_file_wins_and_its_test_rows_are_excluded(tmp_path):
    folder = tmp_path / "edos"
    folder.mkdir()
    (folder / "edos_labelled_aggregated.csv").write_text(
        "rewire_id,text,label_sexist,label_category,label_vector,split\n"
        "a,the ferry is late again,not sexist,none,none,train\n"
        "b,women cannot be trusted with money,sexist,4. prejudiced discussions,4.1 x,test\n",
        encoding="utf-8",
    )
    records, log = read("edos", tmp_path)
    assert [r.id for r in records] == ["edos:a"]
    assert log.excluded == {"upstream test split": 1}


def test_tweeteval_pairs_text_and_label_lines_across_all_splits():
    records, _ = read("tweeteval_hate")
    assert [r.id for r in records] == [
        "tweeteval_hate:train:1",
        "tweeteval_hate:train:2",
        "tweeteval_hate:val:1",
        "tweeteval_hate:test:1",
    ]
    assert [r.label for r in records] == ["harassing", "neutral", "neutral", "harassing"]
    assert records[0].text.endswith("knows it")  # trailing whitespace stripped


def test_tweeteval_offensive_uses_its_own_folder_and_source_name():
    records, _ = read("tweeteval_offensive")
    assert {r.source for r in records} == {"tweeteval_offensive"}
    assert Counter(r.label for r in records) == {"harassing": 2, "neutral": 2}


def test_empathy_response_with_reaction_or_interpretation_is_supportive_with_seeker_as_parent():
    records, _ = read("empathy")
    by_id = {r.id: r for r in records}
    assert by_id["empathy:s1:r1"].label == "supportive"
    assert by_id["empathy:s3:r5"].label == "supportive"  # interpretation only
    assert by_id["empathy:s1:r1"].parent_text.startswith("I feel like nobody")


def test_empathy_all_zero_response_is_neutral_and_explorations_only_is_excluded():
    records, log = read("empathy")
    by_id = {r.id: r for r in records}
    assert by_id["empathy:s1:r2"].label == "neutral"
    assert "empathy:s2:r4" not in by_id
    assert log.excluded["ambiguous empathy: explorations only"] == 1


def test_empathy_never_emits_seeker_posts_or_disclosures():
    records, _ = read("empathy")
    assert all(r.parent_text for r in records)
    assert not any(r.label == "disclosure" for r in records)
    assert not any(r.text.startswith("I feel like nobody") for r in records)


def test_empathy_pair_repeated_in_a_file_keeps_its_highest_level(tmp_path):
    data = writable_copy(tmp_path)
    path = data / "empathy" / "interpretations-reddit.csv"
    path.write_text(path.read_text(encoding="utf-8") + "s1,r2,x,Have you tried a different gym schedule?,1,\n")
    records, log = read("empathy", data)
    assert {r.id: r.label for r in records}["empathy:s1:r2"] == "supportive"
    assert any("repeated" in reason for reason in log.excluded)


def test_seed_reader_reads_every_jsonl_file_in_name_order(tmp_path):
    (tmp_path / "b.jsonl").write_text('{"id": "b1", "text": "hi", "label": "neutral", "source": "seed"}\n')
    (tmp_path / "a.jsonl").write_text('{"id": "a1", "text": "hey", "label": "neutral", "source": "seed"}\n')
    assert [r.id for r in read_seed(tmp_path, ReadLog())] == ["a1", "b1"]


# --- bad input: each case corrupts one fixture file; strict names file:line, tolerant skips and counts ---

def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


EDOS_CSV = "edos/edos_labelled_aggregated.train_dev.csv"
EMPATHY_CSV = "empathy/emotional-reactions-reddit.csv"
BAD_INPUTS = {
    "csv_wrong_field_count": ("edos", EDOS_CSV, b"fx-bad,only three,sexist\n", 9, "malformed CSV row"),
    "csv_missing_field": ("edos", EDOS_CSV, b",no id,sexist,none,none,train\n", 9, "missing field rewire_id"),
    "csv_unknown_label": ("edos", EDOS_CSV, b"fx-bad,a post,maybe sexist,none,none,train\n", 9, "unknown label"),
    "csv_empty_text": ("edos", EDOS_CSV, b'fx-bad,"   ",sexist,none,none,train\n', 9, "empty text"),
    "csv_non_utf8": ("edos", EDOS_CSV, b"fx-bad,caf\xe9 \xff,not sexist,none,none,train\n", 9, "not valid UTF-8"),
    "empathy_unknown_level": ("empathy", EMPATHY_CSV, b"s9,r9,seek,reply,7,\n", 7, "unknown level"),
    "empathy_empty_text": ("empathy", EMPATHY_CSV, b"s9,r9,seek,,1,\n", 7, "empty text"),
    "empathy_non_utf8": ("empathy", EMPATHY_CSV, b"s9,r9,seek,r\xe9ply,1,\n", 7, "not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_csv_row_in_strict_mode_raises_with_file_and_line(tmp_path, case):
    name, relative, row, line, reason = BAD_INPUTS[case]
    data = writable_copy(tmp_path)
    append(data / relative, row)
    with pytest.raises(DataError, match=rf"{Path(relative).name}:{line}: {reason}"):
        read(name, data, strict=True)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_csv_row_in_tolerant_mode_is_skipped_and_counted(tmp_path, case):
    name, relative, row, line, reason = BAD_INPUTS[case]
    data = writable_copy(tmp_path)
    good, _ = read(name, data)
    append(data / relative, row)
    records, log = read(name, data)
    assert [r.id for r in records] == [r.id for r in good]
    assert log.skipped_count == 1
    (skipped,) = log.report(data / relative).skipped
    assert f":{line}: {reason}" in skipped


TWEETEVAL_CASES = {
    "unknown_label": ("train_labels.txt", b"1\n7\n", "train_labels.txt:2: unknown label '7'"),
    "missing_label": ("train_labels.txt", b"1\n\n", "train_labels.txt:2: missing label"),
    "empty_text": ("train_text.txt", b"a tweet\n   \n", "train_text.txt:2: empty text"),
    "non_utf8": ("train_text.txt", b"a tweet\n\xc3\x28 bad\n", "train_text.txt:2: not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(TWEETEVAL_CASES))
def test_bad_tweeteval_line_strict_raises_and_tolerant_skips(tmp_path, case):
    file_name, content, message = TWEETEVAL_CASES[case]
    data = writable_copy(tmp_path)
    (data / "tweeteval" / "hate" / file_name).write_bytes(content)
    with pytest.raises(DataError, match=message):
        read("tweeteval_hate", data, strict=True)
    records, log = read("tweeteval_hate", data)
    assert len(records) == 3 and log.skipped_count == 1


def test_tweeteval_line_count_mismatch_is_an_error_even_when_tolerant(tmp_path):
    data = writable_copy(tmp_path)
    (data / "tweeteval" / "hate" / "train_labels.txt").write_bytes(b"1\n0\n1\n")
    with pytest.raises(DataError, match="has 2 lines but .*train_labels.txt has 3"):
        read("tweeteval_hate", data)


def test_missing_file_is_an_error_naming_it(tmp_path):
    data = writable_copy(tmp_path)
    (data / "empathy" / "explorations-reddit.csv").unlink()
    with pytest.raises(DataError, match="explorations-reddit.csv: file missing"):
        read("empathy", data)


def test_csv_header_without_required_column_is_an_error(tmp_path):
    data = writable_copy(tmp_path)
    (data / EDOS_CSV).write_text("rewire_id,body,label_sexist,split\nx,y,sexist,train\n", encoding="utf-8")
    with pytest.raises(DataError, match=r":1: header lacks column\(s\) text"):
        read("edos", data)


SEED_CASES = {
    "malformed_json": (b'{"id": "x", "text": \n', "s.jsonl:2: malformed JSON"),
    "missing_field": (b'{"id": "x", "label": "neutral", "source": "seed"}\n', "s.jsonl:2: text: Field required"),
    "unknown_label": (b'{"id": "x", "text": "t", "label": "spam", "source": "seed"}\n', "s.jsonl:2: label: "),
    "empty_text": (b'{"id": "x", "text": "  ", "label": "neutral", "source": "seed"}\n', "s.jsonl:2: text: "),
    "non_utf8": (b'{"id": "x", "text": "\xff", "label": "neutral", "source": "seed"}\n', "s.jsonl:2: not valid UTF-8"),
}


@pytest.mark.parametrize("case", sorted(SEED_CASES))
def test_bad_seed_line_strict_raises_and_tolerant_skips(tmp_path, case):
    content, message = SEED_CASES[case]
    good = b'{"id": "ok", "text": "fine", "label": "neutral", "source": "seed"}\n'
    (tmp_path / "s.jsonl").write_bytes(good + content)
    with pytest.raises(DataError, match=message):
        list(read_seed(tmp_path, ReadLog(strict=True)))
    log = ReadLog()
    assert [r.id for r in read_seed(tmp_path, log)] == ["ok"]
    assert log.skipped_count == 1


@pytest.mark.skipif(not MIRROR.is_dir(), reason="shared data mirror not present")
def test_mirrored_files_match_the_hashes_pinned_in_the_sources_table():
    for source in SOURCES.values():
        for file in [*source.files, *source.mirror_files]:
            path = source.folder_in(MIRROR) / file.path
            if path.is_file() and file.sha256:
                assert sha256_file(path) == file.sha256, path


def test_cli_list_shows_which_datasets_are_present(tmp_path):
    from typer.testing import CliRunner

    from withyou.cli import app

    (tmp_path / "edos").mkdir()
    shutil.copy(FIXTURE_DATA / EDOS_CSV, tmp_path / EDOS_CSV)
    result = CliRunner().invoke(app, ["data", "list", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 2}
    assert "yes" in rows["edos"] and "no" in rows["empathy"] and "CC0-1.0" in rows["edos"]
