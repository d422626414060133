"""The linear stage as served (withyou/linear.py): scikit-learn's scores from plain data, no pickle anywhere, and
the blend's English-only rule."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from training.linear import check_linear_parity, fit_linear, write_linear
from withyou.bundle import BundleError, Classifier, Item
from withyou.blend import log_softmax
from withyou.linear import LinearStage, LinearStageError, char_wb_ngrams, word_ngrams
from withyou.paths import SEED_DIR
from withyou.records import Record, read_jsonl

TRICKY = [
    ("Sure you were.", "me too. at work, 2019"),
    ("", None),
    ("a", "b"),
    ("I  was   15 —   and\tnobody\nbelieved me", None),
    ("l1ar!!!!! <b>slut</b> @someone https://x.co/a", "He followed me home."),
    ("ÉCOUTE-MOI bien: tu mens", None),
    ("x" * 40, "y " * 300),
    ("me too 🙋‍♀️ #MeToo", None),
]


@pytest.fixture(scope="module")
def seed_records() -> list[Record]:
    records = []
    for path in sorted(SEED_DIR.glob("*.jsonl")):
        records.extend(read_jsonl(path, strict=False))
    return sorted(records, key=lambda r: r.id)[::4]


@pytest.fixture(scope="module")
def fitted(seed_records, tmp_path_factory):
    rng = np.random.default_rng(0)
    weights = rng.uniform(0.2, 3.0, len(seed_records))
    pipeline = fit_linear(seed_records, weights, max_features=3000, min_df=2, C=4.0)
    directory = tmp_path_factory.mktemp("linear")
    write_linear(pipeline, directory)
    return pipeline, directory


def test_served_scores_equal_scikit_learns(fitted, seed_records):
    pipeline, directory = fitted
    stage = LinearStage.from_bundle(directory)
    texts, parents = [t for t, _ in TRICKY], [p for _, p in TRICKY]
    inputs = [{"text": t, "parent_text": p} for t, p in TRICKY]
    np.testing.assert_allclose(stage.probabilities(texts, parents), pipeline.predict_proba(inputs), atol=1e-9)
    np.testing.assert_allclose(stage.decision(texts, parents), pipeline.decision_function(inputs), atol=1e-9)
    assert check_linear_parity(pipeline, directory, seed_records[:300]) < 1e-9
    assert stage.labels == list(pipeline.classes_)


def test_ngrams_are_scikit_learns():
    from sklearn.feature_extraction.text import CountVectorizer

    for text in ["Hi  there, you l1ar", "a b cc ddd", "naïve Café  résumé", "x"]:
        for analyzer, ours in (("word", word_ngrams), ("char_wb", char_wb_ngrams)):
            low, high = (1, 2) if analyzer == "word" else (2, 5)
            theirs = CountVectorizer(analyzer=analyzer, ngram_range=(low, high)).build_analyzer()(text)
            assert sorted(ours(text, low, high)) == sorted(theirs), (analyzer, text)


def test_an_archive_that_needs_unpickling_is_refused(fitted, tmp_path):
    _, directory = fitted
    bad = Path(shutil.copytree(directory, tmp_path / "bad"))
    with np.load(bad / "linear.npz") as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["coef"] = np.array([object()], dtype=object)
    np.savez(bad / "linear.npz", **arrays)
    with pytest.raises(LinearStageError, match="only unpickling can read"):
        LinearStage.from_bundle(bad)


@pytest.fixture(scope="module")
def blend_bundle(tiny_model, tmp_path_factory):
    from tests.blend_bundle import with_linear_stage

    bundle = with_linear_stage(tiny_model.bundle, tiny_model.splits, tmp_path_factory.mktemp("blend") / "bundle")
    validation = tiny_model.splits["validation"]
    assert LinearStage.from_bundle(bundle).labels  # readable, and training checked its parity on validation
    return bundle


def test_a_bundle_with_a_pickle_inside_is_refused(blend_bundle, tmp_path):
    bundle = Path(shutil.copytree(blend_bundle, tmp_path / "bundle"))
    (bundle / "extra.bin").write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(BundleError, match="a pickle inside the bundle"):
        Classifier.from_bundle(bundle)
    (bundle / "extra.bin").unlink()
    (bundle / "baseline.joblib").write_bytes(b"not even a pickle")
    with pytest.raises(BundleError, match="a pickle inside the bundle"):
        Classifier.from_bundle(bundle)


def test_a_listed_linear_stage_must_have_its_files(blend_bundle, tmp_path):
    bundle = Path(shutil.copytree(blend_bundle, tmp_path / "bundle"))
    (bundle / "blend.json").unlink()
    with pytest.raises(BundleError, match="missing blend.json"):
        Classifier.from_bundle(bundle)


def test_the_blend_is_the_weighted_log_pool_of_both_stages(blend_bundle):
    classifier = Classifier.from_bundle(blend_bundle)
    assert classifier.stages == ["transformer", "linear"] and classifier.linear is not None
    texts, parents = ["Sure you were.", "I was groped on the bus this morning."], ["me too, at work", None]
    w = classifier.blend.weight
    expected = (1 - w) * log_softmax(classifier.logits(texts, parents)) + w * np.log(
        np.maximum(classifier.linear_probabilities(texts, parents), 1e-6))
    np.testing.assert_allclose(classifier.scores(texts, parents), expected, atol=1e-9)
    assert [p.stage for p in classifier.predict([Item(t, p) for t, p in zip(texts, parents)])] == ["blend", "blend"]


def test_a_post_in_another_language_bypasses_the_linear_stage(blend_bundle, tmp_path):
    bundle = Path(shutil.copytree(blend_bundle, tmp_path / "bundle"))
    blend = json.loads((bundle / "blend.json").read_text())
    from withyou.integrity import write_bundle_json

    write_bundle_json(bundle, "blend.json", {**blend, "linear_weight": 0.5})
    classifier = Classifier.from_bundle(bundle)
    french = "Je te crois. Ce qu'il t'a fait au bureau est inacceptable, tu n'es pas seule."
    english = "I believe you. What he did to you at the office is unacceptable, you are not alone."
    assert classifier.reads_linear([french, english]) == [False, True]
    scores, transformer = classifier.scores([french, english]), log_softmax(classifier.logits([french, english]))
    np.testing.assert_allclose(scores[0], transformer[0], atol=1e-9)  # (same batch: int8 scales are per batch)
    assert not np.allclose(scores[1], transformer[1], atol=1e-3)
    (fr, en) = classifier.predict([Item(french), Item(english)])
    assert (fr.stage, en.stage) == ("transformer", "blend")
