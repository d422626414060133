"""The opt-in adapters of issue 19 (mlma, told_br, convabuse) on handwritten fixture files (tests/fixtures/data), and
the opt-in mechanism that keeps them out of the default build."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from training.adapters import REPAIRED_ENCODING_TAG, ReadLog, names_a_user, read_source, repair_gbk_mojibake
from training.build import BuildConfig, build_dataset
from training.sources import MULTILINGUAL, default_source_names, load_sources
from withyou.records import DataError

FIXTURE_DATA = Path(__file__).parents[1] / "fixtures" / "data"
SOURCES = load_sources()
OPT_IN = ("mlma", "told_br", "convabuse")
NAMES_A_USER = "names a user (an unmasked @handle, or a name given or echoed)"


def read(name: str, data_dir: Path = FIXTURE_DATA, strict: bool = False, **changes) -> tuple[dict, ReadLog]:
    source = SOURCES[name].model_copy(update=changes)
    log = ReadLog(strict)
    return {r.id: r for r in read_source(source, data_dir, log)}, log


# --- the opt-in set ---


def test_the_new_sources_are_opt_in_and_left_out_of_the_default_build():
    assert {name for name, source in SOURCES.items() if source.opt_in == MULTILINGUAL} == set(OPT_IN)
    assert set(default_source_names(SOURCES)).isdisjoint(OPT_IN)
    assert set(default_source_names(SOURCES, (MULTILINGUAL,))) == set(SOURCES)


def test_asking_for_an_opt_in_set_no_source_declares_is_an_error():
    with pytest.raises(DataError, match="no source opts into multilingul"):
        default_source_names(SOURCES, ("multilingul",))


def test_default_build_reads_no_opt_in_source_and_the_multilingual_build_reads_them(tmp_path):
    seed = tmp_path / "seed"
    shutil.copytree(FIXTURE_DATA.parent / "training", seed)
    default = build_dataset(BuildConfig(data_dir=FIXTURE_DATA, seed_dir=seed, out_dir=tmp_path / "default"))
    multilingual = build_dataset(
        BuildConfig(data_dir=FIXTURE_DATA, seed_dir=seed, out_dir=tmp_path / "multi", opt_in=(MULTILINGUAL,))
    )

    assert set(default["sources"]).isdisjoint(OPT_IN)
    assert "mlma" not in default["sampling_weights"]
    assert {name: multilingual["sources"][name]["status"] for name in OPT_IN} == dict.fromkeys(OPT_IN, "read")
    assert multilingual["sampling_weights"]["mlma"] == {"harassing": 0.5}


def test_cli_build_with_an_unknown_opt_in_set_is_a_one_line_error(tmp_path):
    from typer.testing import CliRunner

    from orchestration.cli import app

    args = ["data", "build", "--data-dir", str(FIXTURE_DATA), "--out", str(tmp_path), "--opt-in", "multilingul"]
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 1
    assert "no source opts into multilingul; opt-in sets in the sources table: multilingual" in result.output


def test_every_opt_in_source_pins_the_sha256_of_every_file():
    for name in OPT_IN:
        assert all(len(file.sha256) == 64 for file in SOURCES[name].files), name


# --- mlma ---


def test_mlma_reads_the_languages_the_table_lists():
    records, _ = read("mlma")
    assert SOURCES["mlma"].languages == ["fr"]
    assert {r.lang for r in records.values()} == {"fr"}

    records, _ = read("mlma", languages=["en", "fr", "ar"])
    assert Counter(r.lang for r in records.values()) == {"fr": 4, "en": 2, "ar": 1}
    assert records["mlma:en:201"].label == "harassing" and records["mlma:ar:301"].label == "neutral"


def test_mlma_hostility_aimed_at_women_or_gender_is_harassing_and_normal_is_neutral():
    records, _ = read("mlma")
    assert {id: r.label for id, r in records.items()} == {
        "mlma:fr:101": "harassing",  # group women
        "mlma:fr:102": "harassing",  # target gender, group other
        "mlma:fr:103": "neutral",
        "mlma:fr:107": "neutral",
    }
    assert {"upstream_split:all", "mlma_target:gender", "mlma_group:women"} <= set(records["mlma:fr:101"].tags)


def test_mlma_other_group_hate_split_annotators_and_named_users_are_excluded_and_counted():
    records, log = read("mlma")
    assert {"mlma:fr:104", "mlma:fr:105", "mlma:fr:106"}.isdisjoint(records)
    assert log.excluded == {
        "fr: hostile, aimed at another group (target origin)": 1,
        "fr: annotators split between normal and hostile": 1,
        NAMES_A_USER: 1,
    }


def test_mlma_unknown_sentiment_strict_raises_with_line_and_tolerant_skips(tmp_path):
    folder = tmp_path / "mlma"
    folder.mkdir()
    (folder / "fr_dataset.csv").write_text(
        "HITId,tweet,sentiment,directness,annotator_sentiment,target,group\n"
        "1,bonne soirée à tous,normal,indirect,indifference,other,other\n"
        "2,un texte quelconque,furious,direct,anger,gender,women\n",
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"fr_dataset.csv:3: unknown sentiment \['furious'\]"):
        read("mlma", tmp_path, strict=True)
    records, log = read("mlma", tmp_path)
    assert list(records) == ["mlma:fr:1"] and log.skipped_count == 1


def test_mlma_missing_language_file_is_an_error(tmp_path):
    (tmp_path / "mlma").mkdir()
    with pytest.raises(DataError, match="fr_dataset.csv: file missing"):
        read("mlma", tmp_path)


# --- told_br ---


def test_told_br_misogyny_by_a_majority_is_harassing_and_no_vote_is_neutral():
    records, _ = read("told_br")
    labels = {r.text: r.label for r in records.values()}
    assert labels["@user cala a boca sua vadia mentirosa"] == "harassing"
    assert labels["mulher tem que ficar quieta, só isso"] == "harassing"
    assert labels["bom dia pessoal hoje tem jogo do time"] == "neutral"
    assert Counter(labels.values()) == {"harassing": 2, "neutral": 2}
    assert all(r.lang == "pt" for r in records.values())
    assert {"told_category:misogyny", "told_category:insult"} <= set(records["told_br:2"].tags)


def test_told_br_other_toxic_rows_are_excluded_per_reason():
    _, log = read("told_br")
    assert log.excluded == {
        "insult or obscenity by a majority, no misogyny vote": 1,
        "one misogyny vote of three": 1,
        "toxic votes without a majority, no misogyny vote": 1,
        "hate aimed at another group (homophobia, racism or xenophobia by a majority)": 1,
        NAMES_A_USER: 1,
    }


def test_told_br_mojibake_is_repaired_and_tagged():
    records, _ = read("told_br")
    repaired = [r for r in records.values() if REPAIRED_ENCODING_TAG in r.tags]
    assert [r.text for r in repaired] == ["vc é um gênio não acredito"]


def test_repair_gbk_mojibake_leaves_clean_text_alone():
    assert repair_gbk_mojibake("n茫o 茅 s贸 isso") == "não é só isso"
    assert repair_gbk_mojibake("não é só isso 👏") == "não é só isso 👏"


def test_told_br_vote_that_is_not_a_number_strict_raises_and_tolerant_skips():
    with pytest.raises(DataError, match="ToLD-BR.csv:11: a vote that is not a number from 0 to 3"):
        read("told_br", strict=True)
    _, log = read("told_br")
    assert log.skipped_count == 1


# --- convabuse ---


def test_convabuse_majority_abusive_is_harassing_with_the_bots_turn_as_parent():
    records, _ = read("convabuse")
    record = records["convabuse:11"]
    assert (record.text, record.parent_text, record.label) == (
        "are you wearing anything under that", "How can I help you today?", "harassing")
    assert {"upstream_split:train", "convabuse_bot:E.L.I.Z.A.", "abuse_type:sex_harassment"} <= set(record.tags)
    assert "benchmark" not in record.tags


def test_convabuse_an_annotator_who_annotated_twice_and_disagreed_votes_ambiguous():
    records, _ = read("convabuse")
    assert records["convabuse:14"].label == "harassing"  # 2 abusive of 3 (the third voted twice: 1, then 0)
    assert "abuse_type:intellectual" in records["convabuse:14"].tags


def test_convabuse_majority_not_abusive_is_neutral_and_unannotated_annotators_do_not_count():
    records, _ = read("convabuse")
    assert records["convabuse:12"].label == "neutral"
    assert records["convabuse:17"].label == "neutral"  # 2 annotators voted (one twice), the third left it blank
    assert set(records) == {"convabuse:11", "convabuse:12", "convabuse:14", "convabuse:17"}


def test_convabuse_no_majority_and_names_given_or_echoed_are_excluded_and_bad_rows_skipped():
    _, log = read("convabuse")
    assert log.excluded == {"annotators split (no majority for abusive or not abusive)": 1, NAMES_A_USER: 2}
    reasons = sorted(problem.rsplit(": ", 1)[1] for report in log.files.values() for problem in report.skipped)
    assert reasons == ["empty text", "no annotation"]


@pytest.mark.parametrize(
    "text, names",
    [
        ("@jeanmartin75 va te faire voir", True),
        ("@user @user va te faire voir @url", False),
        ("hi, my name is Priya", True),
        ("my name's Sam", True),
        ("Why do you say your names Tomasz?", True),
        ("what is your name ?", False),
        ("ask u/some_reader about it", True),
        ("send it to me@example", False),
    ],
)
def test_names_a_user(text, names):
    assert names_a_user(text) is names
