"""`withyou data build --extra FILE`: review exports join an already split dataset without moving any base record."""

from __future__ import annotations

import pytest

from tests.conftest import tiny_splits
from training.build import BuildConfig, build_dataset
from withyou.records import Record, read_jsonl, write_jsonl


@pytest.fixture(scope="module")
def seed_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("seed")
    records = [r.model_copy(update={"split": None}) for split in tiny_splits().values() for r in split]
    write_jsonl(directory / "seed.jsonl", records)
    return directory


def build(seed_dir, out, extra=()) -> dict[str, Record]:
    build_dataset(BuildConfig(seed_dir=seed_dir, out_dir=out, include_public=False, extra=tuple(map(str, extra))))
    return {r.id: r for split in ("train", "validation", "test") for r in read_jsonl(out / f"{split}.jsonl")}


@pytest.fixture(scope="module")
def base(seed_dir, tmp_path_factory) -> dict[str, Record]:
    return build(seed_dir, tmp_path_factory.mktemp("base"))


def extras_for(base: dict[str, Record]) -> list[Record]:
    test_anchor = next(r for r in base.values() if r.split == "test" and r.parent_text is None)
    duplicate = next(r for r in base.values() if r.label != "neutral")
    return [
        Record(id="review-1", text="a reply no dataset has seen before, about nothing", label="neutral", source="review"),
        Record(id="review-2", text="you are making this up", parent_text=test_anchor.text, label="harassing", source="review"),
        Record(id="review-3", text=duplicate.text, parent_text=duplicate.parent_text, label="neutral", source="review"),
        Record(id=duplicate.id, text="an id the dataset already uses", label="neutral", source="review"),
    ]


def test_extras_never_move_a_base_record(seed_dir, base, tmp_path):
    write_jsonl(tmp_path / "reviewed.jsonl", extras_for(base))

    merged = build(seed_dir, tmp_path / "out", [tmp_path / "reviewed.jsonl"])

    assert {i: r.split for i, r in merged.items() if r.source != "review"} == {i: r.split for i, r in base.items()}


def test_extras_join_their_conversation_split_or_train_and_duplicates_are_dropped(seed_dir, base, tmp_path):
    write_jsonl(tmp_path / "reviewed.jsonl", extras_for(base))

    merged = build(seed_dir, tmp_path / "out", [tmp_path / "reviewed.jsonl"])
    manifest = (tmp_path / "out" / "manifest.json").read_text()

    reviewed = {i: r.split for i, r in merged.items() if r.source == "review"}
    assert reviewed == {"review-1": "train", "review-2": "test"}
    assert '"duplicates_dropped": 1' in manifest and '"ids_already_taken": 1' in manifest


def test_a_missing_extra_file_is_an_error_naming_it(seed_dir, tmp_path):
    from withyou.records import DataError

    with pytest.raises(DataError, match="missing.jsonl"):
        build(seed_dir, tmp_path / "out", [tmp_path / "missing.jsonl"])
