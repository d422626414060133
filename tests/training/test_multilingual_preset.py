"""`withyou train --preset multilingual` and the languages a bundle lists (issue 19, items 4 and 6): training writes
`languages` from its training split, a listed language is hidden when the model is sure, an unlisted one never is.

The end-to-end test trains the preset on a tiny random BERT (tests/tiny_bundles.py) instead of multilingual-e5-small:
it proves the path (opt-in data → training → languages in the bundle → served actions), not the model.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from training.bases import E5_SMALL
from training.build import SEED_LANGUAGES_DIR, BuildConfig, build_dataset
from training.config import TrainConfig
from training.dataset import trained_languages
from training.sources import MULTILINGUAL
from withyou.bundle import Classifier
from withyou.labels import LABELS
from withyou.language import UNSUPPORTED_REASON, detect
from withyou.paths import SEED_DIR
from withyou.policy import Thresholds
from withyou.records import DataError, Record, read_jsonl

FIXTURES = Path(__file__).parents[1] / "fixtures"
FRENCH = "Tu mens pour attirer l'attention, personne ne te croit, retourne pleurer ailleurs."
SPANISH = "Mientes para llamar la atención, nadie te cree, vete a llorar a otra parte."


def rows(lang: str, per_label: int, labels: tuple[str, ...] = LABELS) -> list[Record]:
    """The first `per_label` rows of each of `labels` in the seed corpus's lang/<lang>.jsonl."""
    records = read_jsonl(SEED_DIR / SEED_LANGUAGES_DIR / f"{lang}.jsonl")
    return [r for label in labels for r in [r for r in records if r.label == label][:per_label]]


def record(lang: str, label: str, n: int) -> Record:
    return Record(id=f"{lang}-{label}-{n}", text=f"text {n}", label=label, source="seed", lang=lang)


@pytest.fixture(scope="module")
def multilingual_dataset(tmp_path_factory) -> Path:
    """The handwritten English seed, French and Japanese in all four labels, Spanish in two: built with the opt-in."""
    root = tmp_path_factory.mktemp("multilingual")
    seed = root / "seed"
    shutil.copytree(FIXTURES / "training", seed)
    (seed / SEED_LANGUAGES_DIR).mkdir()
    for lang, records in (("fr", rows("fr", 15)), ("ja", rows("ja", 15)), ("es", rows("es", 20, ("disclosure", "neutral")))):
        (seed / SEED_LANGUAGES_DIR / f"{lang}.jsonl").write_text("".join(r.model_dump_json() + "\n" for r in records),
                                                                  encoding="utf-8")
    build_dataset(BuildConfig(seed_dir=seed, include_public=False, out_dir=root / "dataset", opt_in=(MULTILINGUAL,)))
    return root / "dataset"


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    """A tiny random BERT saved as a base-model folder (config.json, weights, tokenizer.json)."""
    from tests.tiny_bundles import tiny_model

    model, tokenizer = tiny_model("bert")
    folder = tmp_path_factory.mktemp("tiny_base")
    model.save_pretrained(folder)
    tokenizer.save(str(folder / "tokenizer.json"))
    return folder


def tiny_multilingual(dataset: Path, base: Path, artifacts: Path, **overrides) -> TrainConfig:
    """The multilingual preset, sized like the fast one, on the tiny base."""
    return TrainConfig.preset(
        "multilingual", base_model=str(base), dataset_dir=dataset, artifacts_dir=artifacts, track=False,
        max_length=48, batch_size=8, eval_batch_size=32, epochs=1, max_train_examples=64, max_eval_examples=32,
        max_steps=4, warmup_ratio=0.0, baseline_max_features=2_000, baseline_min_df=1, language_min_rows_per_label=5,
        **overrides,
    )


def test_the_multilingual_preset_is_e5_small_on_the_multilingual_build():
    preset = TrainConfig.preset("multilingual")
    assert (preset.base_model, preset.opt_in) == (E5_SMALL, (MULTILINGUAL,))
    default = TrainConfig()
    assert preset.learning_rate < default.learning_rate  # 1e-4 made e5-small collapse (TrainConfig.multilingual)
    assert preset.max_train_examples > default.max_train_examples and preset.epochs == default.epochs
    assert TrainConfig().opt_in == () and TrainConfig.preset("multilingual", epochs=2).epochs == 2


def test_trained_languages_need_every_label_and_a_code_the_detector_answers():
    records = [record(lang, label, n) for lang in ("en", "fr", "xx") for label in LABELS for n in range(3)]
    records += [record("pt", label, n) for label in ("harassing", "neutral") for n in range(50)]
    records += [record("en", "neutral", n) for n in range(3, 9)]

    assert trained_languages(records, 3) == ("en", "fr")
    assert trained_languages(records, 4) == ("pt",)  # nothing reaches the bar: the language with the most rows


def test_the_preset_refuses_a_dataset_built_without_the_opt_in(tiny_dataset_dir, tiny_base, tmp_path):
    from training.pipeline import run_training

    with pytest.raises(DataError, match=r"--opt-in multilingual.*built with no opt-in set"):
        run_training(tiny_multilingual(tiny_dataset_dir, tiny_base, tmp_path))
    assert not (tmp_path / "models").exists()


def test_the_preset_lists_the_languages_it_trained_on_and_serves_them(multilingual_dataset, tiny_base, tmp_path):
    from training.pipeline import run_training

    train = read_jsonl(multilingual_dataset / "train.jsonl")
    per_label = Counter((r.lang, r.label) for r in train)
    assert all(per_label[(lang, label)] >= 5 for lang in ("fr", "ja") for label in LABELS)

    outcome = run_training(tiny_multilingual(multilingual_dataset, tiny_base, tmp_path))
    bundle = outcome.model_dir / "bundle"
    metadata = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))

    assert set(metadata["languages"]) == {"en", "fr", "ja"}  # Spanish has no harassing or supportive rows: unlisted
    assert metadata["preset"] == "multilingual"  # what `withyou retrain` trains again
    assert outcome.report["dataset"]["train_rows_per_language"]["es"] > 0
    assert (detect(FRENCH).lang, detect(SPANISH).lang) == ("fr", "es")
    classifier = Classifier.from_bundle(bundle)
    scores = [p.scores["harassing"] for p in classifier.predict([{"text": FRENCH}, {"text": SPANISH}])]
    sure = Thresholds(review=min(scores) / 2, hide=min(scores))  # both posts reach the hide threshold

    french, spanish = classifier.predict([{"text": FRENCH}, {"text": SPANISH}], sure)

    assert (french.action, french.lang, french.reason) == ("hide", "fr", None)
    assert (spanish.action, spanish.lang, spanish.reason) == ("review", "es", UNSUPPORTED_REASON)
