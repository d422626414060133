"""Public-data adapters on tiny handwritten fixture files (tests/fixtures/data, or written into tmp_path here),
and every bad-input case."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from tests.components import missing_component
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


def test_empathy_is_not_in_the_sources_table():
    """Its licence (Althoff academic, research use) is one the project must never read, not even for evaluation."""
    assert "empathy" not in SOURCES and "empathy" not in ADAPTERS


def test_benchmark_and_noncommercial_flags_are_declared_per_source():
    assert SOURCES["edos"].benchmark_splits == ["dev"]
    assert SOURCES["misogyny_reddit"].benchmark_splits == ["test"]
    assert SOURCES["crowdcounter"].benchmark_splits == ["test"]
    assert [name for name, source in SOURCES.items() if source.noncommercial] == ["crowdcounter"]


def test_a_benchmark_split_name_must_be_lower_case(tmp_path):
    table = tmp_path / "sources.toml"
    table.write_text(
        '[x]\ntitle = "x"\nfolder = "x"\nlicence = "MIT"\nmapping = {}\nbenchmark_splits = ["Test"]\n'
        '[[x.files]]\npath = "a.csv"\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"\[x\] benchmark_splits: .*lower case"):
        load_sources(table)


def test_edos_dev_rows_are_tagged_benchmark_and_train_rows_are_not():
    records, _ = read("edos")
    by_id = {r.id: r for r in records}
    assert {"upstream_split:dev", "benchmark"} <= set(by_id["edos:fx-edos-3"].tags)
    assert "benchmark" not in by_id["edos:fx-edos-1"].tags
    assert "upstream_split:train" in by_id["edos:fx-edos-1"].tags


def test_tweeteval_has_no_benchmark_split():
    records, _ = read("tweeteval_hate")
    assert not any("benchmark" in r.tags for r in records)


# --- misogyny_reddit: one CSV with the upstream header, rows written here ---

MISOGYNY_HEADER = (
    "entry_id,link_id,parent_id,entry_utc,subreddit,author,body,image,label_date,week,group,sheet_order,"
    "level_1,level_2,level_3,strength,highlight,split"
).split(",")
AUTHOR = "fx_user_quokka77"


def misogyny_row(entry_id, parent_id, body, level_2="None_of_the_categories", split="train", image=""):
    level_1 = "Misogynistic" if level_2 in ("Derogation", "Treatment", "Misogynistic_pejorative") else "Nonmisogynistic"
    values = {
        "entry_id": entry_id, "link_id": "t3_op1", "parent_id": parent_id, "entry_utc": "1580000000",
        "subreddit": "fxrunning", "author": AUTHOR, "body": body, "image": image, "label_date": "01-01-2020",
        "week": "1", "group": "1", "sheet_order": "(1,)", "level_1": level_1, "level_2": level_2,
        "level_3": "", "strength": "", "highlight": "", "split": split,
    }
    return [values[column] for column in MISOGYNY_HEADER]


MISOGYNY_ROWS = [
    misogyny_row("op1", "", "Any tips for a first half marathon?"),
    misogyny_row("c1", "t3_op1", "Women only run so people look at them.", "Derogation"),
    misogyny_row("c2", "t1_c1", "That is a sweeping claim about half the planet.", "Counter_speech", "test"),
    misogyny_row("c3", "t1_c1", "You are a pathetic little troll, log off.", "Nonmisogynistic_personal_attack"),
    misogyny_row("c4", "t1_c3", "[removed]"),
    misogyny_row("c5", "t1_c4", "agreed, nothing more to say"),
    misogyny_row("c6", "t1_gone", "Replying to something that is not in the file.", split="test"),
    misogyny_row("c7", "t1_c2", "Fair point, I take it back.", "None_of_the_categories"),
    misogyny_row("img1", "", "", image="Yes"),
    misogyny_row("c8", "t3_op1", "   "),
    misogyny_row("c9", "t1_c1", "Shut it, you dumb hag.", "Misogynistic_pejorative"),
    misogyny_row("c9", "t1_c1", "Shut it, you dumb hag.", "Misogynistic_personal_attack"),
    misogyny_row("c10", "t3_op1", "Not all women, but most of them are like that.", "Derogation"),
    misogyny_row("c10", "t3_op1", "Not all women, but most of them are like that.", "Counter_speech"),
    misogyny_row("c11", "t3_op1", "Stretch first", image="then run slowly"),
    misogyny_row("img2", "", "[deleted]", image="Yes"),
]


def write_misogyny(tmp_path: Path, rows: list[list[str]] = MISOGYNY_ROWS) -> Path:
    import csv

    folder = tmp_path / "misogyny_reddit"
    folder.mkdir(exist_ok=True)
    with open(folder / "final_labels.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(MISOGYNY_HEADER)
        writer.writerows(rows)
    return tmp_path


def read_misogyny(tmp_path: Path, rows=MISOGYNY_ROWS, strict: bool = False) -> tuple[dict, ReadLog]:
    records, log = read("misogyny_reddit", write_misogyny(tmp_path, rows), strict)
    return {r.id: r for r in records}, log


def test_misogyny_level_2_categories_map_to_withyou_labels(tmp_path):
    by_id, _ = read_misogyny(tmp_path)
    assert by_id["misogyny_reddit:c1"].label == "harassing"  # Derogation
    assert by_id["misogyny_reddit:c2"].label == "supportive"  # Counter_speech
    assert by_id["misogyny_reddit:c3"].label == "harassing"  # Nonmisogynistic_personal_attack
    assert by_id["misogyny_reddit:op1"].label == "neutral"
    assert "level_2:Derogation" in by_id["misogyny_reddit:c1"].tags
    assert "subreddit:fxrunning" in by_id["misogyny_reddit:c1"].tags


def test_misogyny_reply_gets_its_parent_body_through_t3_and_t1_ids(tmp_path):
    by_id, _ = read_misogyny(tmp_path)
    assert by_id["misogyny_reddit:op1"].parent_text is None
    assert by_id["misogyny_reddit:c1"].parent_text == "Any tips for a first half marathon?"  # t3_op1
    assert by_id["misogyny_reddit:c3"].parent_text == "Women only run so people look at them."  # t1_c1


def test_misogyny_parent_from_the_other_split_is_context_and_flagged_when_held_out(tmp_path):
    by_id, _ = read_misogyny(tmp_path)
    test_reply = by_id["misogyny_reddit:c2"]
    assert test_reply.parent_text == "Women only run so people look at them."  # a train post
    assert "parent_benchmark" not in test_reply.tags
    train_reply = by_id["misogyny_reddit:c7"]
    assert train_reply.parent_text == "That is a sweeping claim about half the planet."  # a test post
    assert "parent_benchmark" in train_reply.tags and "benchmark" not in train_reply.tags


def test_misogyny_removed_or_missing_parent_leaves_parent_text_empty_and_tagged(tmp_path):
    by_id, _ = read_misogyny(tmp_path)
    for entry_id in ("c5", "c6"):  # parent "[removed]"; parent not in the file
        record = by_id[f"misogyny_reddit:{entry_id}"]
        assert record.parent_text is None and "parent_unavailable" in record.tags


def test_misogyny_author_column_never_reaches_a_record(tmp_path):
    by_id, log = read_misogyny(tmp_path)
    for record in by_id.values():
        assert AUTHOR not in record.model_dump_json()
    assert not any(AUTHOR in line for report in log.files.values() for line in report.skipped)
    assert not any(AUTHOR in reason for reason in log.excluded)


def test_misogyny_empty_and_removed_bodies_are_skipped_with_reasons(tmp_path):
    by_id, log = read_misogyny(tmp_path)
    assert not {"misogyny_reddit:c4", "misogyny_reddit:img1", "misogyny_reddit:c8", "misogyny_reddit:img2"} & set(by_id)
    skipped = [line.split(":", 1)[1] for report in log.files.values() for line in report.skipped]
    assert sorted(skipped) == ["10: empty text (image post)", "11: empty text"]
    assert log.excluded["post [removed] (no text left)"] == 1
    assert log.excluded["image post [deleted] (no text left)"] == 1


def test_misogyny_entry_repeated_per_category_becomes_one_record_with_every_category(tmp_path):
    by_id, log = read_misogyny(tmp_path)
    record = by_id["misogyny_reddit:c9"]
    assert record.label == "harassing"
    assert {"level_2:Misogynistic_pejorative", "level_2:Misogynistic_personal_attack"} <= set(record.tags)
    assert log.excluded["entry repeated with another level_2 category (merged into one record)"] == 2


def test_misogyny_entry_whose_categories_disagree_on_the_label_is_excluded(tmp_path):
    by_id, log = read_misogyny(tmp_path)
    assert "misogyny_reddit:c10" not in by_id
    assert log.excluded["conflicting level_2 categories (Counter_speech + Derogation)"] == 1


def test_misogyny_body_spilled_into_the_image_column_is_rejoined(tmp_path):
    by_id, log = read_misogyny(tmp_path)
    record = by_id["misogyny_reddit:c11"]
    assert record.text == "Stretch first,then run slowly" and "image_post" not in record.tags
    assert log.excluded["body split at an unquoted comma into the image column (rejoined, kept)"] == 1


def test_misogyny_benchmark_tag_on_the_test_split_only(tmp_path):
    by_id, _ = read_misogyny(tmp_path)
    benchmark = {i for i, r in by_id.items() if "benchmark" in r.tags}
    assert benchmark == {i for i, r in by_id.items() if "upstream_split:test" in r.tags}
    assert benchmark == {"misogyny_reddit:c2", "misogyny_reddit:c6"}


def test_misogyny_unknown_category_strict_raises_with_line_and_tolerant_skips(tmp_path):
    rows = [*MISOGYNY_ROWS[:2], misogyny_row("c99", "t3_op1", "some reply", "Sarcasm")]
    with pytest.raises(DataError, match=r"final_labels.csv:4: unknown label 'Sarcasm'"):
        read_misogyny(tmp_path, rows, strict=True)
    by_id, log = read_misogyny(tmp_path, rows)
    assert set(by_id) == {"misogyny_reddit:op1", "misogyny_reddit:c1"} and log.skipped_count == 1


# --- crowdcounter: three JSON Lines files written here ---

def pair(hate: str, counter: str, kind: str = "questions") -> str:
    import json

    return json.dumps({"hatespeech": hate, "counterspeech": counter, "required_types": kind, "total_types": [kind]})


HATE_A = "those people are vermin and should be thrown out"
HATE_B = "go back to where you came from, nobody wants your kind"
CROWDCOUNTER_FILES = {
    "Train.json": [
        pair(HATE_A, "Calling people vermin says more about you than about them.", "shaming"),
        pair(HATE_A, "What did they ever do to you?", "questions"),
        pair(" Those people are VERMIN and should be thrown out ", "Imagine being scared of neighbours.", "humour"),
        pair(HATE_B, "Plenty of us want them here. You are the odd one out.", "contradiction"),
    ],
    "Val.json": [pair(HATE_A, "Posts like this can cost you your job.", "warning-of-consequences")],
    "Test.json": [pair(HATE_B, "That must be a lonely way to see the world.", "empathy_affiliation")],
}


def write_crowdcounter(tmp_path: Path, extra: dict[str, list[str]] | None = None) -> Path:
    folder = tmp_path / "crowdcounter"
    folder.mkdir(exist_ok=True)
    for name, lines in CROWDCOUNTER_FILES.items():
        (folder / name).write_text("\n".join([*lines, *(extra or {}).get(name, [])]) + "\n", encoding="utf-8")
    return tmp_path


def test_crowdcounter_counter_speech_is_supportive_with_the_hate_post_as_parent(tmp_path):
    records, _ = read("crowdcounter", write_crowdcounter(tmp_path))
    replies = [r for r in records if r.parent_text is not None]
    assert len(replies) == 6 and {r.label for r in replies} == {"supportive"}
    first = next(r for r in replies if r.id == "crowdcounter:train:1")
    assert first.parent_text == HATE_A and "cs_type:shaming" in first.tags


def test_crowdcounter_hate_post_is_harassing_without_parent(tmp_path):
    records, _ = read("crowdcounter", write_crowdcounter(tmp_path))
    hate = [r for r in records if r.parent_text is None]
    assert {r.label for r in hate} == {"harassing"}
    assert {r.text for r in hate} == {HATE_A, HATE_B}


def test_crowdcounter_repeated_hate_post_is_emitted_once_per_split(tmp_path):
    records, log = read("crowdcounter", write_crowdcounter(tmp_path))
    hate_ids = [r.id for r in records if r.label == "harassing"]
    assert len(hate_ids) == len(set(hate_ids)) == 4  # train: A, B; val: A; test: B
    assert sum(i.startswith("crowdcounter:train:hate:") for i in hate_ids) == 2  # A repeated with other case/spaces
    assert log.excluded["hate post repeated in its split (emitted once)"] == 2


def test_crowdcounter_every_record_is_tagged_noncommercial(tmp_path):
    records, _ = read("crowdcounter", write_crowdcounter(tmp_path))
    assert records and all("noncommercial" in r.tags for r in records)


def test_crowdcounter_benchmark_tag_on_the_test_split_only(tmp_path):
    records, _ = read("crowdcounter", write_crowdcounter(tmp_path))
    benchmark = {r.id for r in records if "benchmark" in r.tags}
    assert benchmark == {r.id for r in records if "upstream_split:test" in r.tags}
    assert len(benchmark) == 2  # the test reply and its hate post
    assert {r.id for r in records if "upstream_split:val" in r.tags} - benchmark


CROWDCOUNTER_BAD_LINES = {
    "malformed_json": ('{"hatespeech": "x", ', "malformed JSON"),
    "not_an_object": ('["a", "b"]', "expected a JSON object, got list"),
    "missing_field": ('{"hatespeech": "x", "required_types": "humour"}', "missing field counterspeech"),
    "empty_text": (pair("  ", "a reply to nothing"), r"empty text \(hatespeech\)"),
    "empty_type": (pair("x", "y", " "), "missing field required_types"),
}


@pytest.mark.parametrize("case", sorted(CROWDCOUNTER_BAD_LINES))
def test_bad_crowdcounter_line_strict_raises_with_file_and_line_and_tolerant_skips(tmp_path, case):
    line, reason = CROWDCOUNTER_BAD_LINES[case]
    data = write_crowdcounter(tmp_path, {"Val.json": [line]})
    with pytest.raises(DataError, match=rf"Val.json:2: {reason}"):
        read("crowdcounter", data, strict=True)
    records, log = read("crowdcounter", data)
    assert len([r for r in records if "upstream_split:val" in r.tags]) == 2
    assert log.skipped_count == 1


def test_crowdcounter_non_utf8_line_is_skipped(tmp_path):
    data = write_crowdcounter(tmp_path)
    append(data / "crowdcounter" / "Test.json", b'{"hatespeech": "caf\xe9"}\n')
    _, log = read("crowdcounter", data)
    (skipped,) = log.report(data / "crowdcounter" / "Test.json").skipped
    assert skipped.endswith("Test.json:2: not valid UTF-8 (byte 19)")


def test_crowdcounter_missing_file_is_an_error(tmp_path):
    data = write_crowdcounter(tmp_path)
    (data / "crowdcounter" / "Val.json").unlink()
    with pytest.raises(DataError, match="Val.json: file missing"):
        read("crowdcounter", data)


def test_seed_reader_reads_every_jsonl_file_in_name_order(tmp_path):
    (tmp_path / "b.jsonl").write_text('{"id": "b1", "text": "hi", "label": "neutral", "source": "seed"}\n')
    (tmp_path / "a.jsonl").write_text('{"id": "a1", "text": "hey", "label": "neutral", "source": "seed"}\n')
    assert [r.id for r in read_seed(tmp_path, ReadLog())] == ["a1", "b1"]


# --- bad input: each case corrupts one fixture file; strict names file:line, tolerant skips and counts ---

def append(path: Path, data: bytes) -> None:
    with open(path, "ab") as handle:
        handle.write(data)


EDOS_CSV = "edos/edos_labelled_aggregated.train_dev.csv"
BAD_INPUTS = {
    "csv_wrong_field_count": ("edos", EDOS_CSV, b"fx-bad,only three,sexist\n", 9, "malformed CSV row"),
    "csv_missing_field": ("edos", EDOS_CSV, b",no id,sexist,none,none,train\n", 9, "missing field rewire_id"),
    "csv_unknown_label": ("edos", EDOS_CSV, b"fx-bad,a post,maybe sexist,none,none,train\n", 9, "unknown label"),
    "csv_empty_text": ("edos", EDOS_CSV, b'fx-bad,"   ",sexist,none,none,train\n', 9, "empty text"),
    "csv_non_utf8": ("edos", EDOS_CSV, b"fx-bad,caf\xe9 \xff,not sexist,none,none,train\n", 9, "not valid UTF-8"),
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
    (data / "tweeteval" / "hate" / "val_labels.txt").unlink()
    with pytest.raises(DataError, match="val_labels.txt: file missing"):
        read("tweeteval_hate", data)


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


def test_mirrored_files_match_the_hashes_pinned_in_the_sources_table():
    if not MIRROR.is_dir():
        missing_component(f"the shared data mirror {MIRROR} is not present (CI clones the repository beside shared/)")
    for source in SOURCES.values():
        for file in [*source.files, *source.mirror_files]:
            path = source.folder_in(MIRROR) / file.path
            if path.is_file() and file.sha256:
                assert sha256_file(path) == file.sha256, path


def test_cli_list_shows_which_datasets_are_present(tmp_path):
    from typer.testing import CliRunner

    from orchestration.cli import app

    (tmp_path / "edos").mkdir()
    shutil.copy(FIXTURE_DATA / EDOS_CSV, tmp_path / EDOS_CSV)
    result = CliRunner().invoke(app, ["data", "list", "--data-dir", str(tmp_path)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 2}
    assert "yes" in rows["edos"] and "no" in rows["misogyny_reddit"] and "CC0-1.0" in rows["edos"]
    assert "empathy" not in rows


def test_cli_list_marks_noncommercial_sources_benchmark_splits_languages_and_opt_in(tmp_path):
    from typer.testing import CliRunner

    from orchestration.cli import app

    result = CliRunner().invoke(app, ["data", "list", "--data-dir", str(tmp_path)], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    cells = {}
    for line in result.output.splitlines():
        parts = [part.strip() for part in line.split("│")[1:-1]]
        if len(parts) == 8 and parts[0]:
            cells[parts[0]] = parts
    assert cells["crowdcounter"][4].startswith("NC") and cells["crowdcounter"][5] == "test"
    assert cells["edos"][4] == "" and cells["edos"][5] == "dev"
    assert cells["misogyny_reddit"][5] == "test" and cells["tweeteval_hate"][5] == ""
    assert cells["edos"][6:] == ["en", ""] and cells["told_br"][6:] == ["pt", "multilingual"]
