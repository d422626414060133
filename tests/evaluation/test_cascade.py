"""The cascade (evaluation/cascade.py, withyou/blend.py): its bars are fitted so that the linear stage alone changes
at most 0.5 % of actions, never a hide on a disclosure and at most 0.5 % of labels, and the posts it answers never
reach the transformer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from evaluation.cascade import DISCLOSURE, MAX_ACTION_CHANGE, MAX_LABEL_CHANGE, actions, fit_cascade, realistic_mix
from withyou.bundle import Classifier, Item
from withyou.labels import LABELS
from withyou.policy import Thresholds

THRESHOLDS = Thresholds(review=0.3, hide=0.8)
NEUTRAL, HARASSING = LABELS.index("neutral"), LABELS.index("harassing")


def probs(p_harassing: np.ndarray, labels: np.ndarray, sureness: float = 1.0) -> np.ndarray:
    """[n, LABELS] rows with P(harassing) = p_harassing and `sureness` of the rest on `labels` (neutral for
    harassing posts), the remainder spread over the two other labels."""
    n = len(p_harassing)
    rest = 1.0 - p_harassing
    rows = np.zeros((n, len(LABELS)))
    rows[:, HARASSING] = p_harassing
    on = np.where(labels == HARASSING, NEUTRAL, labels)
    rows[np.arange(n), on] += sureness * rest
    others = [[i for i in range(len(LABELS)) if i not in (HARASSING, j)] for j in on]
    for row, (a, b), r in zip(rows, others, rest):
        row[a] += (1 - sureness) * r / 2
        row[b] += (1 - sureness) * r / 2
    return rows


def fit(y, blend, linear, reads, **limits):
    """fit_cascade on P(harassing) arrays whose other labels agree (the label bar admits everything)."""
    return fit_cascade(y, probs(blend, y), probs(linear, y), reads, THRESHOLDS, **limits)


def fixture_set(n: int = 2000, seed: int = 0):
    """Posts whose linear P(harassing) tracks the blend's, with two traps: a disclosure the blend hides although the
    linear stage finds it benign, and a handful of harassing posts the linear stage misses."""
    rng = np.random.default_rng(seed)
    y = rng.choice([DISCLOSURE, NEUTRAL, HARASSING], n, p=[0.3, 0.6, 0.1])
    blend = np.where(y == HARASSING, rng.uniform(0.5, 1.0, n), rng.uniform(0.0, 0.25, n))
    linear = np.clip(blend + rng.normal(0, 0.05, n), 0, 1)
    trap = int(np.flatnonzero(y == DISCLOSURE)[0])
    blend[trap], linear[trap] = 0.95, 0.04  # hidden by the blend, benign to the linear stage
    missed = np.flatnonzero(y == HARASSING)[:6]
    linear[missed] = 0.01
    return y, blend, linear, np.ones(n, dtype=bool), trap


def test_the_bar_never_lets_the_linear_stage_change_a_hide_on_a_disclosure():
    y, blend, linear, reads, trap = fixture_set()

    fitted = fit(y, blend, linear, reads)

    bar = fitted["linear_allow_below"]
    answered = reads & (linear < bar)
    assert not answered[trap] and fitted["disclosure_hide_changes"] == 0
    blend_actions = actions(blend, THRESHOLDS)
    assert ((blend_actions == "hide") & (y == DISCLOSURE) & answered).sum() == 0
    assert (answered & (blend_actions != "allow")).sum() <= MAX_ACTION_CHANGE * len(y)
    assert bar == linear[trap]  # the trap is exactly what stops it: the bar is as high as the rules allow
    assert answered.mean() > 0.1 and fitted["action_changes"] == 6  # the six missed harassing posts fit the budget


def test_the_bar_is_the_highest_the_action_budget_allows():
    y, blend, linear, reads, trap = fixture_set()
    blend[trap], linear[trap] = 0.1, 0.1  # no trap: only the action budget limits the bar
    fitted = fit(y, blend, linear, reads, max_action_change=0.002)
    bar = fitted["linear_allow_below"]
    changes = (reads & (linear < bar) & (actions(blend, THRESHOLDS) != "allow")).sum()
    assert changes <= 0.002 * len(y)
    above = linear[reads & (linear >= bar)].min()
    assert (reads & (linear <= above) & (actions(blend, THRESHOLDS) != "allow")).sum() > 0.002 * len(y) or bar == THRESHOLDS.review


def test_the_bar_never_exceeds_the_review_threshold():
    y = np.full(100, NEUTRAL)
    fitted = fit(y, np.zeros(100), np.linspace(0, 1, 100), np.ones(100, dtype=bool))
    assert fitted["linear_allow_below"] == THRESHOLDS.review


def test_posts_another_language_are_never_answered_by_the_linear_stage():
    y, blend, linear, reads, _ = fixture_set()
    reads[::2] = False
    fitted = fit(y, blend, linear, reads)
    answered_share = (reads & (linear < fitted["linear_allow_below"])).mean()
    assert fitted["answered_by_linear"] == pytest.approx(answered_share)


def test_the_sureness_bar_keeps_the_labels_of_the_blend():
    y, blend, linear, reads, _ = fixture_set()
    rng = np.random.default_rng(1)
    # the linear stage hesitates on a third of the benign posts and then picks another label than the blend's
    hesitant = (y != HARASSING) & (rng.uniform(size=len(y)) < 0.33)
    other = np.where(y == DISCLOSURE, NEUTRAL, DISCLOSURE)
    linear_probs = probs(linear, np.where(hesitant, other, y), 1.0)
    linear_probs[hesitant] = probs(linear[hesitant], other[hesitant], 0.45)
    blend_probs = probs(blend, y)

    fitted = fit_cascade(y, blend_probs, linear_probs, reads, THRESHOLDS)

    under = reads & (linear_probs[:, HARASSING] < fitted["linear_allow_below"])
    answered = under & (linear_probs.max(axis=1) > fitted["linear_sure_above"])
    relabelled = answered & (linear_probs.argmax(axis=1) != blend_probs.argmax(axis=1))
    assert relabelled.sum() == fitted["label_changes"] <= MAX_LABEL_CHANGE * len(y)
    assert (under & hesitant).sum() > 100 and fitted["linear_sure_above"] > 0  # without the bar: ~30 % relabelled
    assert answered.mean() == pytest.approx(fitted["answered_by_linear"]) and answered.mean() > 0.1
    # the bar is the lowest the label budget allows: one step lower would take a hesitant post
    lower = under & (linear_probs.max(axis=1) >= fitted["linear_sure_above"]) & ~answered
    assert lower.any() and (lower & (linear_probs.argmax(axis=1) != blend_probs.argmax(axis=1))).any()


def test_a_cascade_without_a_sureness_bar_reads_as_zero(tmp_path):
    import json

    from withyou.blend import BLEND_FORMAT, read_blend
    from withyou.integrity import BundleError

    blend = {"format": BLEND_FORMAT, "linear_weight": 0.5, "linear_languages": ["en"],
             "cascade": {"linear_allow_below": 0.1}}
    (tmp_path / "blend.json").write_text(json.dumps(blend))
    assert read_blend(tmp_path).cascade_sure_above == 0.0
    (tmp_path / "blend.json").write_text(json.dumps({**blend, "cascade": {"linear_allow_below": 0.1,
                                                                          "linear_sure_above": 0.8}}))
    assert read_blend(tmp_path).cascade_sure_above == 0.8
    (tmp_path / "blend.json").write_text(json.dumps({**blend, "cascade": {"linear_allow_below": 0.1,
                                                                          "linear_sure_above": "high"}}))
    with pytest.raises(BundleError, match="linear_sure_above"):
        read_blend(tmp_path)


def test_realistic_mix_is_mostly_benign(tiny_model):
    records = [r for split in tiny_model.splits.values() for r in split]
    mix = realistic_mix(records, size=400)
    assert len(mix) == 400 and sum(r.label == "harassing" for r in mix) == 20


@pytest.fixture(scope="module")
def cascade_bundle(tiny_model, tmp_path_factory):
    from tests.blend_bundle import with_linear_stage
    from withyou.integrity import read_json, write_bundle_json

    bundle = with_linear_stage(tiny_model.bundle, tiny_model.splits, tmp_path_factory.mktemp("cascade") / "bundle")
    blend = read_json(bundle / "blend.json")
    write_bundle_json(bundle, "blend.json", {**blend, "cascade": {"linear_allow_below": 0.2}})
    write_bundle_json(bundle, "thresholds.json", {"review": 0.3, "hide": 0.8})
    return bundle


def test_posts_the_cascade_answers_never_reach_the_transformer(cascade_bundle):
    classifier = Classifier.from_bundle(cascade_bundle)
    texts = ["what a lovely sunny day at the beach", "I was groped on the bus", "Sure you were.", "lol"]
    linear = classifier.linear_probabilities(texts)[:, classifier.harassing_index]
    bar = float(np.sort(linear)[1:3].mean())  # two posts under the bar, two over
    classifier.blend = dataclasses.replace(classifier.blend, cascade_below=bar)
    read_by_transformer = []
    run = classifier.logits
    classifier.logits = lambda t, p=None: read_by_transformer.extend(t) or run(t, p)

    predictions = classifier.predict([Item(t) for t in texts], thresholds=Thresholds(review=0.99, hide=0.995))

    for text, p_linear, prediction in zip(texts, linear, predictions):
        if p_linear < bar:
            assert prediction.stage == "linear" and prediction.action == "allow" and text not in read_by_transformer
            assert prediction.scores["harassing"] == pytest.approx(p_linear)
        else:
            assert prediction.stage == "blend" and text in read_by_transformer
    assert sorted(p.stage for p in predictions) == ["blend", "blend", "linear", "linear"]


def test_without_a_cascade_every_post_gets_the_blend(cascade_bundle):
    classifier = Classifier.from_bundle(cascade_bundle)
    classifier.blend = dataclasses.replace(classifier.blend, cascade_below=None)
    assert {p.stage for p in classifier.predict([Item("lol"), Item("I was groped on the bus")])} == {"blend"}


def test_evaluation_records_both_bars_and_serving_reads_them(cascade_bundle, tiny_model, tmp_path):
    import shutil

    from evaluation.stages import cascade_coverage, fit_and_record_cascade
    from withyou.bundle import softmax
    from withyou.integrity import read_json

    bundle = Path(shutil.copytree(cascade_bundle, tmp_path / "bundle"))
    classifier = Classifier.from_bundle(bundle)
    validation = [r for split in tiny_model.splits.values() for r in split]
    texts, parents = [r.text for r in validation], [r.parent_text for r in validation]
    columns = [classifier.labels.index(label) for label in LABELS]
    blend = softmax(classifier.scores(texts, parents), classifier.temperature)[:, columns]

    fitted = fit_and_record_cascade(classifier, validation, blend, classifier.thresholds, write=True)

    recorded = read_json(bundle / "blend.json")["cascade"]
    assert recorded["linear_sure_above"] == fitted["linear_sure_above"]
    reloaded = Classifier.from_bundle(bundle)  # the checksums stay true, and serving reads both bars
    assert reloaded.blend.cascade_sure_above == fitted["linear_sure_above"]
    assert reloaded.blend.cascade_below == fitted["linear_allow_below"]
    covered = cascade_coverage(reloaded, validation, classifier.thresholds)
    assert covered["answered_by_linear"] == pytest.approx(fitted["answered_by_linear"])
    assert 1 - covered["label_agreement"] <= MAX_LABEL_CHANGE + 1e-9
