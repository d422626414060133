"""The linear stage's sample weights (training.pipeline.linear_sample_weights, TrainConfig.linear_weighting)."""

from __future__ import annotations

from collections import defaultdict
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import tiny_splits
from training.config import ConfigError, TrainConfig
from training.pipeline import linear_sample_weights, sample_weights


def dataset():
    """The tiny train split made unbalanced (two neutral rows), with the first row tagged as a counterfactual."""
    train = [r.model_copy(update={"tags": ()}) for r in tiny_splits()["train"]]
    neutral = [i for i, r in enumerate(train) if r.label == "neutral"]
    train = [r for i, r in enumerate(train) if i not in neutral[2:]]
    train[0] = train[0].model_copy(update={"tags": ("identity_counterfactual",)})
    return SimpleNamespace(train=train, manifest={})


def test_balanced_weights_give_every_label_the_same_total_and_keep_the_tag_weights():
    data = dataset()
    config = TrainConfig()
    weights = linear_sample_weights(config, data)

    assert config.linear_weighting == "balanced" and weights.mean() == pytest.approx(1.0)
    factor = config.tag_weights["identity_counterfactual"]
    totals = defaultdict(float)
    for record, weight in zip(data.train, weights):
        totals[record.label] += weight / (factor if record.tags else 1.0)
    assert len(totals) == 4 and np.allclose(list(totals.values()), next(iter(totals.values())))
    by_label = {r.label: w for r, w in zip(data.train[1:], weights[1:])}
    assert by_label["neutral"] > 2 * by_label["harassing"]  # two neutral rows weigh as much as six harassing
    plain = next(i for i, r in enumerate(data.train) if r.label == data.train[0].label and not r.tags)
    assert weights[0] / weights[plain] == pytest.approx(factor)


def test_transformer_weighting_is_the_epoch_sampling_weights():
    data = dataset()
    config = TrainConfig(linear_weighting="transformer")
    assert np.allclose(linear_sample_weights(config, data), sample_weights(config, data))
    assert not np.allclose(linear_sample_weights(TrainConfig(), data), sample_weights(config, data))


def test_an_unknown_weighting_is_refused():
    with pytest.raises(ConfigError, match="linear_weighting"):
        TrainConfig(linear_weighting="uniform").validate()
