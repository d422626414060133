"""`withyou data build`: dedup, grouped and stratified split, caps, real-text benchmarks kept out of training,
non-commercial rows, manifest, missing data, bad input."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from training.build import BuildConfig, build_dataset
from training.dedup import deduplicate, normalize_text
from training.manifest import content_hash
from training.split import assign_splits
from orchestration.cli import app
from withyou.labels import LABELS
from withyou.records import DataError, Record, read_jsonl

FIXTURE_DATA = Path(__file__).parents[1] / "fixtures" / "data"
SEED_FIRST = lambda record: 0 if record.source == "seed" else 1  # noqa: E731


def words(rng: np.random.Generator, n: int = 9) -> str:
    """Distinct made-up sentences, so generated records are never near-duplicates of each other by accident."""
    return " ".join(f"w{rng.integers(100_000)}" for _ in range(n))


def record(id: str, text: str, label: str = "neutral", parent: str | None = None, source: str = "seed") -> Record:
    return Record(id=id, text=text, parent_text=parent, label=label, source=source)


def write_threads(seed_dir: Path, threads: int = 30, standalone_per_label: int = 10) -> list[Record]:
    """A seed corpus of conversations (a top-level post and three replies) plus standalone posts per label."""
    rng = np.random.default_rng(0)
    records = []
    for t in range(threads):
        parent = f"thread {t} " + words(rng)
        records.append(record(f"t{t}", parent, "disclosure"))
        for r, label in enumerate(("supportive", "harassing", "neutral")):
            records.append(record(f"t{t}-r{r}", f"reply {r} " + words(rng), label, parent))
    for label in LABELS:
        records += [record(f"{label}-{i}", words(rng), label) for i in range(standalone_per_label)]
    seed_dir.mkdir(parents=True, exist_ok=True)
    with open(seed_dir / "corpus.jsonl", "w", encoding="utf-8") as handle:
        for r in records:
            handle.write(r.model_dump_json() + "\n")
    return records


def config(tmp_path: Path, **overrides) -> BuildConfig:
    seed_dir = tmp_path / "seed"
    if not seed_dir.exists():
        write_threads(seed_dir)
    fields = {"data_dir": FIXTURE_DATA, "seed_dir": seed_dir, "out_dir": tmp_path / "out", **overrides}
    return BuildConfig(**fields)


def built(tmp_path: Path) -> list[Record]:
    return [r for split in ("train", "validation", "test") for r in read_jsonl(tmp_path / "out" / f"{split}.jsonl")]


# --- normalisation and de-duplication ---

def test_normalisation_ignores_case_width_punctuation_urls_and_user_placeholders():
    assert normalize_text("@user I  BELIEVE you!!! https://t.co/x [USER]") == "i believe you"
    assert normalize_text("ＩＢＥＬＩＥＶＥ you") == normalize_text("ibelieve YOU.")


def test_exact_duplicates_after_normalisation_are_removed_and_counted():
    kept, stats = deduplicate(
        [record("a", "I believe you."), record("b", "i believe you [URL]"), record("c", "@user I BELIEVE YOU")],
        SEED_FIRST,
    )
    assert [r.id for r in kept] == ["a"] and stats.exact == 2


def test_near_duplicate_with_the_same_label_is_removed():
    text = "the council approved the new cycling lanes along the river road after a long public meeting"
    near = text.replace("council", "councl")  # a typo: char 5-gram Jaccard 0.9
    kept, stats = deduplicate([record("a", text), record("b", near)], SEED_FIRST)
    assert [r.id for r in kept] == ["a"] and stats.near == 1


def test_near_identical_texts_with_different_labels_are_kept_as_minimal_pairs():
    harassing = "everyone in this thread knows that she is a liar and an attention seeker"
    supportive = "everyone in this thread knows that she is not a liar and an attention seeker"
    kept, stats = deduplicate(
        [record("a", harassing, "harassing"), record("b", supportive, "supportive")], SEED_FIRST
    )
    assert len(kept) == 2 and stats.near == 0 and stats.near_label_disagreements == 1


def test_same_reply_under_different_parents_is_not_a_duplicate():
    kept, stats = deduplicate(
        [
            record("a", "me too", "disclosure", parent="Reply if a boss ever cornered you."),
            record("b", "me too", "neutral", parent="I could eat pizza every day."),
        ],
        SEED_FIRST,
    )
    assert len(kept) == 2 and stats.conflicting == 0


def test_conflicting_labels_within_one_tier_are_all_dropped_and_counted():
    kept, stats = deduplicate(
        [record("a", "sure you were", "harassing", source="x"), record("b", "Sure you were.", "neutral", source="y")],
        SEED_FIRST,
    )
    assert kept == [] and stats.conflicting == 2


def test_seed_label_wins_over_a_conflicting_public_label():
    kept, stats = deduplicate(
        [
            record("p", "this fucking printer again", "harassing", source="tweeteval_offensive"),
            record("s", "This fucking printer again!", "neutral"),
        ],
        SEED_FIRST,
    )
    assert [r.id for r in kept] == ["s"] and stats.conflicting == 1


# --- split ---

def test_parent_post_and_its_replies_never_straddle_splits(tmp_path):
    build_dataset(config(tmp_path))
    records = built(tmp_path)
    splits_of_group = defaultdict(set)
    for r in records:
        splits_of_group[r.group].add(r.split)
    assert all(len(s) == 1 for s in splits_of_group.values())
    split_of_text = {r.text: r.split for r in records if r.parent_text is None}
    replies = [r for r in records if r.parent_text in split_of_text]
    assert len(replies) == 90 + 2 + 4  # seed threads; misogyny fxc1, fxc5; crowdcounter train + val replies
    assert all(split_of_text[r.parent_text] == r.split for r in replies)


@pytest.mark.parametrize("threads", [3, 25], ids=["few_threads_one_grouped_splitter", "many_threads_two_splitters"])
def test_replies_share_their_parents_split_whichever_splitter_runs(threads):
    rng = np.random.default_rng(3)
    records = [record(f"s{i}", words(rng), LABELS[i % 4]) for i in range(60)]
    for t in range(threads):
        parent = words(rng)
        records.append(record(f"p{t}", parent, "disclosure"))
        records += [record(f"p{t}-{r}", words(rng), LABELS[r], parent) for r in range(4)]
    split_of = {r.text: r.split for r in assign_splits(records)}
    assert all(split_of[r.parent_text] == split_of[r.text] for r in records if r.parent_text)


def test_split_is_stratified_by_label_with_about_80_10_10():
    rng = np.random.default_rng(1)
    records = [record(f"{label}-{i}", words(rng), label) for label in LABELS for i in range(50)]
    split = assign_splits(records, seed=13)
    for label in LABELS:
        counts = Counter(r.split for r in split if r.label == label)
        assert counts == {"train": 40, "validation": 5, "test": 5}


def test_split_depends_only_on_the_seed():
    rng = np.random.default_rng(2)
    records = [record(f"r{i}", words(rng), LABELS[i % 4]) for i in range(80)]
    first = [r.split for r in assign_splits(records, seed=5)]
    assert first == [r.split for r in assign_splits(records, seed=5)]
    assert first != [r.split for r in assign_splits(records, seed=6)]


def test_too_few_conversations_to_split_is_a_clear_error():
    with pytest.raises(DataError, match="only 3 distinct conversations"):
        assign_splits([record(f"r{i}", f"text {i}") for i in range(3)])


# --- build end to end ---

def test_manifest_counts_match_the_written_files_and_the_content_hash(tmp_path):
    manifest = build_dataset(config(tmp_path))
    records = built(tmp_path)
    on_disk = json.loads((tmp_path / "out" / "manifest.json").read_text(encoding="utf-8"))
    assert on_disk["content_hash"] == manifest["content_hash"] == content_hash(records)
    counted = Counter()
    for split, by_label in manifest["counts"].items():
        for label, by_source in by_label.items():
            for source, n in by_source.items():
                counted[(split, label, source)] = n
    assert counted == Counter((r.split, r.label, r.source) for r in records)
    assert {"duplicates_removed", "seed", "skipped", "sources", "elapsed_seconds", "created_at"} <= set(manifest)


def test_build_reads_every_public_fixture_dataset(tmp_path):
    manifest = build_dataset(config(tmp_path, apply_caps=False))
    assert {name: s["status"] for name, s in manifest["sources"].items()} == dict.fromkeys(
        ("edos", "tweeteval_hate", "tweeteval_offensive", "misogyny_reddit", "crowdcounter"), "read"
    )
    public = Counter(r.source for r in built(tmp_path) if r.source != "seed")
    # edos: 2 of 6 rows are dev (benchmark); misogyny: 2 test rows + 1 reply to a test post left out;
    # crowdcounter: 3 Test rows left out, the Val copy of a Train hate post de-duplicated.
    assert public == {"edos": 4, "tweeteval_hate": 4, "tweeteval_offensive": 4, "misogyny_reddit": 3, "crowdcounter": 6}


def test_build_is_reproducible(tmp_path):
    first = build_dataset(config(tmp_path))["content_hash"]
    assert build_dataset(config(tmp_path))["content_hash"] == first


def test_missing_dataset_folder_is_a_notice_and_the_seed_alone_builds(tmp_path):
    manifest = build_dataset(config(tmp_path, data_dir=tmp_path / "empty"))
    assert all(s["status"] == "missing" for s in manifest["sources"].values())
    assert any("edos: skipped" in line for line in manifest["notices"])
    assert set(Counter(r.source for r in built(tmp_path))) == {"seed"}


def test_no_public_builds_from_the_seed_only(tmp_path):
    manifest = build_dataset(config(tmp_path, include_public=False))
    assert manifest["sources"] == {} and {r.source for r in built(tmp_path)} == {"seed"}


def test_caps_limit_public_rows_per_label_but_never_the_seed(tmp_path):
    build_dataset(config(tmp_path, cap=1))
    counts = Counter((r.source, r.label) for r in built(tmp_path))
    assert all(n <= 1 for (source, _), n in counts.items() if source != "seed")
    assert counts[("seed", "disclosure")] == 40


def test_bad_seed_line_is_skipped_and_recorded_in_the_manifest(tmp_path):
    write_threads(tmp_path / "seed")
    with open(tmp_path / "seed" / "corpus.jsonl", "ab") as handle:
        handle.write(b'{"id": "bad", "text": "x", "label": "spam", "source": "seed"}\n')
    manifest = build_dataset(config(tmp_path))
    (info,) = [v for k, v in manifest["skipped"].items() if k.endswith("corpus.jsonl")]
    assert info["skipped"] == 1 and list(info["reasons"]) == [next(iter(info["reasons"]))]
    assert info["examples"][0].endswith("corpus.jsonl:161: label: Input should be 'disclosure', 'supportive', "
                                         "'harassing' or 'neutral'")
    with pytest.raises(DataError, match="corpus.jsonl:161"):
        build_dataset(config(tmp_path, strict=True))


def test_unreadable_dataset_is_skipped_when_tolerant_and_fatal_when_strict(tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(FIXTURE_DATA, data)
    (data / "crowdcounter" / "Val.json").unlink()
    manifest = build_dataset(config(tmp_path, data_dir=data))
    assert manifest["sources"]["crowdcounter"]["status"] == "unreadable"
    with pytest.raises(DataError, match="Val.json: file missing"):
        build_dataset(config(tmp_path, data_dir=data, strict=True))


def test_label_from_a_single_source_is_flagged_as_a_shortcut_risk(tmp_path):
    manifest = build_dataset(config(tmp_path))
    assert any(risk.startswith("disclosure: every row comes from seed") for risk in manifest["shortcut_risks"])


def test_cli_build_prints_the_label_by_source_table_and_risks(tmp_path):
    write_threads(tmp_path / "seed")
    result = CliRunner().invoke(
        app,
        ["data", "build", "--data-dir", str(FIXTURE_DATA), "--seed-dir", str(tmp_path / "seed"),
         "--out", str(tmp_path / "out"), "--sources", "edos,misogyny_reddit"],
    )
    assert result.exit_code == 0, result.output
    assert "rows per label × source" in result.output and "shortcut risk" in result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["config"]["sources"] == ["edos", "misogyny_reddit"]
    assert set(manifest["sources"]) == {"edos", "misogyny_reddit"}


def test_cli_build_with_an_unknown_dataset_is_a_one_line_error(tmp_path):
    write_threads(tmp_path / "seed")
    result = CliRunner().invoke(
        app, ["data", "build", "--seed-dir", str(tmp_path / "seed"), "--out", str(tmp_path / "o"), "--sources", "x"]
    )
    assert result.exit_code == 1 and "unknown dataset(s) x" in result.output and "Traceback" not in result.output


# --- real-text benchmarks and non-commercial rows ---

BENCHMARK_SPLIT_TAGS = {
    "edos": "upstream_split:dev",
    "misogyny_reddit": "upstream_split:test",
    "crowdcounter": "upstream_split:test",
}
EDOS_DEV_POST = "She only got promoted because of her looks, obviously. [URL]"  # fixture row fx-edos-3


def add_to_seed(tmp_path: Path, *records: Record) -> None:
    """The generated seed corpus plus a few hand-made records (written before the first build)."""
    write_threads(tmp_path / "seed")
    with open(tmp_path / "seed" / "corpus.jsonl", "a", encoding="utf-8") as handle:
        for r in records:
            handle.write(r.model_dump_json() + "\n")


def benchmark_files(tmp_path: Path) -> dict[str, list[Record]]:
    folder = tmp_path / "out" / "benchmarks"
    return {path.stem: read_jsonl(path) for path in sorted(folder.glob("*.jsonl"))}


def test_benchmark_rows_never_reach_train_validation_or_test(tmp_path):
    build_dataset(config(tmp_path))
    records = built(tmp_path)
    assert not [r.id for r in records if "benchmark" in r.tags]
    assert not [r.id for r in records if BENCHMARK_SPLIT_TAGS.get(r.source) in r.tags]
    assert not {"edos:fx-edos-3", "edos:fx-edos-4", "misogyny_reddit:fxc2", "crowdcounter:test:1"} & {
        r.id for r in records
    }


def test_benchmark_rows_are_written_per_source_and_summarised_in_the_manifest(tmp_path):
    manifest = build_dataset(config(tmp_path))
    on_disk = benchmark_files(tmp_path)
    assert {name: sorted(r.id for r in rows) for name, rows in on_disk.items() if name != "crowdcounter"} == {
        "edos": ["edos:fx-edos-3", "edos:fx-edos-4"],
        "misogyny_reddit": ["misogyny_reddit:fxc2", "misogyny_reddit:fxc4"],
    }
    assert all(BENCHMARK_SPLIT_TAGS[name] in r.tags for name, rows in on_disk.items() for r in rows)
    assert manifest["benchmarks"] == {
        "crowdcounter": {"path": "benchmarks/crowdcounter.jsonl", "rows": 3,
                         "labels": {"harassing": 1, "supportive": 2}, "with_parent": 2},
        "edos": {"path": "benchmarks/edos.jsonl", "rows": 2, "labels": {"harassing": 1, "neutral": 1},
                 "with_parent": 0},
        "misogyny_reddit": {"path": "benchmarks/misogyny_reddit.jsonl", "rows": 2,
                            "labels": {"neutral": 1, "supportive": 1}, "with_parent": 2},
    }
    assert {name: len(rows) for name, rows in on_disk.items()} == {
        name: summary["rows"] for name, summary in manifest["benchmarks"].items()
    }


def test_training_row_equal_to_a_benchmark_post_after_normalisation_is_dropped_and_counted(tmp_path):
    copy = record("copy-of-dev-post", "SHE ONLY got promoted because of her looks obviously!!! https://x.example/a",
                  "harassing")
    add_to_seed(tmp_path, copy)
    manifest = build_dataset(config(tmp_path, sources=("edos",)))
    assert copy.id not in {r.id for r in built(tmp_path)}
    assert manifest["benchmark_overlap_removed"] == {"seed": 1}


def test_training_reply_whose_parent_is_a_benchmark_post_is_dropped(tmp_path):
    reply = record("reply-to-dev-post", "that is a nasty thing to say about a colleague", "supportive",
                   parent=EDOS_DEV_POST.upper())
    add_to_seed(tmp_path, reply)
    manifest = build_dataset(config(tmp_path, sources=("edos", "misogyny_reddit")))
    ids = {r.id for r in built(tmp_path)}
    assert reply.id not in ids and "misogyny_reddit:fxc3" not in ids  # fxc3 answers the test post fxc2
    assert manifest["benchmark_overlap_removed"] == {"misogyny_reddit": 1, "seed": 1}


def test_training_post_that_is_only_the_parent_of_a_benchmark_reply_is_kept(tmp_path):
    build_dataset(config(tmp_path, sources=("misogyny_reddit",)))
    by_id = {r.id: r for r in built(tmp_path)}
    (benchmark_reply,) = [r for r in benchmark_files(tmp_path)["misogyny_reddit"] if r.id == "misogyny_reddit:fxc2"]
    assert by_id["misogyny_reddit:fxc1"].text == benchmark_reply.parent_text


def test_exclude_noncommercial_leaves_out_every_crowdcounter_row_and_counts_them(tmp_path):
    manifest = build_dataset(config(tmp_path, exclude_noncommercial=True))
    assert "crowdcounter" not in {r.source for r in built(tmp_path)}
    assert "crowdcounter" not in manifest["benchmarks"] and "crowdcounter" not in benchmark_files(tmp_path)
    assert manifest["noncommercial_excluded"] == {"crowdcounter": 10}  # Train 5, Val 2, Test 3 records


def test_noncommercial_rows_are_kept_unless_excluded(tmp_path):
    manifest = build_dataset(config(tmp_path))
    assert manifest["noncommercial_excluded"] == {}
    assert "crowdcounter" in {r.source for r in built(tmp_path)} and "crowdcounter" in manifest["benchmarks"]


def test_cli_exclude_noncommercial_flag_leaves_out_crowdcounter(tmp_path):
    write_threads(tmp_path / "seed")
    result = CliRunner().invoke(
        app,
        ["data", "build", "--data-dir", str(FIXTURE_DATA), "--seed-dir", str(tmp_path / "seed"),
         "--out", str(tmp_path / "out"), "--exclude-noncommercial"],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["config"]["exclude_noncommercial"] is True
    assert manifest["noncommercial_excluded"] == {"crowdcounter": 10}
    assert "crowdcounter" not in {r.source for r in built(tmp_path)}


def test_manifest_carries_the_sampling_weights_of_the_sources_table(tmp_path):
    table = tmp_path / "sources.toml"
    table.write_text(
        '[edos]\ntitle = "EDOS"\nfolder = "edos"\nlicence = "CC0-1.0"\nbenchmark_splits = ["dev"]\n'
        'mapping = { "sexist" = "harassing", "not sexist" = "neutral" }\nweight = { harassing = 2.5 }\n'
        '[[edos.files]]\npath = "edos_labelled_aggregated.train_dev.csv"\n\n'
        '[tweeteval_hate]\ntitle = "hate"\nfolder = "tweeteval/hate"\nlicence = "x"\n'
        'mapping = { "0" = "neutral", "1" = "harassing" }\n[[tweeteval_hate.files]]\npath = "train_text.txt"\n',
        encoding="utf-8",
    )
    manifest = build_dataset(config(tmp_path, sources_file=table))
    assert manifest["sampling_weights"] == {"edos": {"harassing": 2.5}}


def test_rebuild_removes_the_stale_benchmark_file_of_a_source_no_longer_read(tmp_path):
    build_dataset(config(tmp_path))
    assert set(benchmark_files(tmp_path)) == {"edos", "misogyny_reddit", "crowdcounter"}
    manifest = build_dataset(config(tmp_path, sources=("edos",)))
    assert set(benchmark_files(tmp_path)) == set(manifest["benchmarks"]) == {"edos"}


def test_extra_rows_that_repeat_a_benchmark_post_are_dropped(tmp_path):
    build_dataset(config(tmp_path, sources=("edos",)))
    graded = read_jsonl(tmp_path / "out" / "benchmarks" / "edos.jsonl")[0]
    extra = tmp_path / "review.jsonl"
    extra.write_text(
        Record(id="review-1", text=graded.text.upper() + "!!", label=graded.label, source="review").model_dump_json()
        + "\n" + Record(id="review-2", text="a fresh reviewed post about the weather", label="neutral",
                        source="review").model_dump_json() + "\n",
        encoding="utf-8",
    )
    manifest = build_dataset(config(tmp_path, sources=("edos",), extra=(str(extra),), out_dir=tmp_path / "out2"))
    ids = {r.id for split in ("train", "validation", "test") for r in read_jsonl(tmp_path / "out2" / f"{split}.jsonl")}
    assert "review-1" not in ids and "review-2" in ids
    assert manifest["extra"]["benchmark_overlap_removed"] == 1
