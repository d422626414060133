"""The seed corpus in other languages (datasets/seed/lang/) in `withyou data build`: read only under the multilingual
opt-in, added without moving any base record, and held out per language in validation and test."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.components import missing_component
from training.build import SEED_LANGUAGES_DIR, BuildConfig, build_dataset
from training.sources import MULTILINGUAL, default_source_names, load_sources
from withyou.labels import LABELS
from withyou.paths import SEED_DIR
from withyou.records import DataError, Record, read_jsonl

FIXTURE_DATA = Path(__file__).parents[1] / "fixtures" / "data"
MIRROR = Path(__file__).parents[3] / "shared" / "data"
SEED_LANGUAGES = SEED_DIR / SEED_LANGUAGES_DIR
PUBLIC_BASE = set(default_source_names(load_sources()))


def built(out: Path) -> dict[str, Record]:
    return {r.id: r for split in ("train", "validation", "test") for r in read_jsonl(out / f"{split}.jsonl")}


def write_language(folder: Path, lang: str, conversations: int, rng: np.random.Generator) -> list[Record]:
    """`conversations` threads in `lang`: a top-level disclosure and a supportive, a harassing, a neutral reply."""
    records = []
    for t in range(conversations):
        parent = f"{lang} fil {t} " + " ".join(f"m{rng.integers(100_000)}" for _ in range(9))
        records.append(Record(id=f"seed-{lang}-{t}", text=parent, label="disclosure", source="seed", lang=lang))
        for r, label in enumerate(LABELS[1:]):
            text = f"{lang} réponse {r} " + " ".join(f"m{rng.integers(100_000)}" for _ in range(9))
            records.append(Record(id=f"seed-{lang}-{t}-{r}", text=text, parent_text=parent, label=label, source="seed",
                                  lang=lang))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{lang}.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records), encoding="utf-8")
    return records


@pytest.fixture
def seed_with_languages(tmp_path: Path) -> Path:
    """The handwritten English fixture seed plus lang/fr.jsonl and lang/ja.jsonl written for the test."""
    seed = tmp_path / "seed"
    shutil.copytree(FIXTURE_DATA.parent / "training", seed)
    rng = np.random.default_rng(0)
    for lang in ("fr", "ja"):
        write_language(seed / SEED_LANGUAGES_DIR, lang, 30, rng)
    return seed


def test_the_default_build_of_the_real_seed_is_the_build_without_its_lang_folder(tmp_path):
    without = tmp_path / "seed_without_lang"
    shutil.copytree(SEED_DIR, without, ignore=shutil.ignore_patterns(SEED_LANGUAGES_DIR))
    assert not (without / SEED_LANGUAGES_DIR).exists() and any(SEED_LANGUAGES.glob("*.jsonl"))

    default = build_dataset(BuildConfig(seed_dir=SEED_DIR, include_public=False, out_dir=tmp_path / "default"))
    reference = build_dataset(BuildConfig(seed_dir=without, include_public=False, out_dir=tmp_path / "reference"))
    multilingual = build_dataset(BuildConfig(seed_dir=SEED_DIR, include_public=False, out_dir=tmp_path / "multi",
                                             opt_in=(MULTILINGUAL,)))

    assert default["content_hash"] == reference["content_hash"]
    for split in ("train", "validation", "test"):
        assert (tmp_path / "default" / f"{split}.jsonl").read_bytes() == (tmp_path / "reference" / f"{split}.jsonl").read_bytes()
    assert set(default["languages"]["train"]) == {"en"}
    assert multilingual["content_hash"] != default["content_hash"]
    assert {"fr", "es", "hi", "hi-Latn", "ja"} <= set(multilingual["languages"]["test"])


def test_every_seed_language_is_held_out_in_validation_and_test_and_no_conversation_straddles_splits(tmp_path):
    build_dataset(BuildConfig(seed_dir=SEED_DIR, include_public=False, out_dir=tmp_path / "multi", opt_in=(MULTILINGUAL,)))
    records = built(tmp_path / "multi").values()
    written = {path.stem for path in SEED_LANGUAGES.glob("*.jsonl")}
    per_split = Counter((r.lang, r.split) for r in records if r.lang != "en")

    assert written == {"fr", "es", "hi", "hi-Latn", "ja"}
    for lang in written:
        assert per_split[(lang, "validation")] > 0 and per_split[(lang, "test")] > 0, lang
        assert per_split[(lang, "train")] > 5 * per_split[(lang, "test")], lang
    splits_of_group: dict[str, set] = {}
    for r in records:
        splits_of_group.setdefault(r.group, set()).add(r.split)
    assert all(len(splits) == 1 for splits in splits_of_group.values())


def test_the_seed_languages_join_without_moving_a_base_record(seed_with_languages, tmp_path):
    default = build_dataset(BuildConfig(data_dir=FIXTURE_DATA, seed_dir=seed_with_languages, out_dir=tmp_path / "d"))
    multilingual = build_dataset(BuildConfig(data_dir=FIXTURE_DATA, seed_dir=seed_with_languages,
                                             out_dir=tmp_path / "m", opt_in=(MULTILINGUAL,)))
    base, both = built(tmp_path / "d"), built(tmp_path / "m")

    assert {r.lang for r in base.values()} == {"en"}
    assert all(both[key] == record for key, record in base.items())  # same text, label and split
    assert Counter(r.lang for r in both.values() if r.source == "seed") == {"fr": 120, "ja": 120}
    assert set(multilingual["seed_corpus"]["files"]) - set(default["seed_corpus"]["files"]) == {"lang/fr.jsonl",
                                                                                                  "lang/ja.jsonl"}


def test_an_opt_in_row_that_repeats_a_base_row_never_displaces_it(seed_with_languages, tmp_path):
    """Without the opt-in tiers the seed copy (tier 0) would win over the public row (tier 1) and remove it."""
    build_dataset(BuildConfig(data_dir=FIXTURE_DATA, seed_dir=seed_with_languages, out_dir=tmp_path / "d"))
    kept = next(r for r in built(tmp_path / "d").values() if r.source in PUBLIC_BASE)
    copy = Record(id="seed-fr-copy", text=kept.text, parent_text=kept.parent_text, label=kept.label, source="seed",
                  lang="fr")
    with open(seed_with_languages / SEED_LANGUAGES_DIR / "fr.jsonl", "a", encoding="utf-8") as handle:
        handle.write(copy.model_dump_json() + "\n")
    build_dataset(BuildConfig(data_dir=FIXTURE_DATA, seed_dir=seed_with_languages, out_dir=tmp_path / "m",
                              opt_in=(MULTILINGUAL,)))
    both = built(tmp_path / "m")

    assert both[kept.id] == kept and "seed-fr-copy" not in both


def test_a_seed_language_missing_from_validation_or_test_is_an_error_naming_it(seed_with_languages):
    lone = Record(id="seed-it-0", text="una sola frase scritta per la prova, niente di più", label="neutral",
                  source="seed", lang="it")
    (seed_with_languages / SEED_LANGUAGES_DIR / "it.jsonl").write_text(lone.model_dump_json() + "\n", encoding="utf-8")
    config = BuildConfig(data_dir=FIXTURE_DATA, seed_dir=seed_with_languages, opt_in=(MULTILINGUAL,),
                         out_dir=seed_with_languages.parent / "out")
    with pytest.raises(DataError, match=r"seed corpus in 'it': none of its 1 rows landed in .*lang/it.jsonl"):
        build_dataset(config)


def test_a_multilingual_build_without_a_lang_folder_is_a_notice(tmp_path):
    seed = tmp_path / "seed"
    shutil.copytree(FIXTURE_DATA.parent / "training", seed)
    manifest = build_dataset(BuildConfig(data_dir=FIXTURE_DATA, seed_dir=seed, out_dir=tmp_path / "m",
                                         opt_in=(MULTILINGUAL,)))
    assert any("no records in other languages" in line for line in manifest["notices"])
    assert set(manifest["languages"]["train"]) <= {"en", "fr", "pt"}  # the opt-in fixture sources only


def test_with_the_public_mirror_the_multilingual_build_keeps_every_row_of_the_default_build(tmp_path):
    """The default English build over the shared mirror is byte-identical whether or not datasets/seed/lang exists,
    and the multilingual build holds each of its rows unchanged, in the same split."""
    if not (MIRROR / "edos").is_dir():
        missing_component(f"the shared data mirror {MIRROR} is not present (CI clones the repository beside shared/)")
    default = build_dataset(BuildConfig(data_dir=MIRROR, seed_dir=SEED_DIR, out_dir=tmp_path / "d"))
    multilingual = build_dataset(BuildConfig(data_dir=MIRROR, seed_dir=SEED_DIR, out_dir=tmp_path / "m",
                                             opt_in=(MULTILINGUAL,)))
    base, both = built(tmp_path / "d"), built(tmp_path / "m")

    assert {r.lang for r in base.values()} == {"en"} and not any(r.id.startswith("seed-fr") for r in base.values())
    assert all(both[key] == record for key, record in base.items())
    assert json.dumps(default["languages"]) != json.dumps(multilingual["languages"])
