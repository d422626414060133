"""Per-epoch sampling (training/dataset.py): label × source balance by sampling probability, and the weighted draw."""

from __future__ import annotations

import numpy as np
import pytest

from training.dataset import sampling_probabilities, weighted_sample
from withyou.labels import LABELS
from withyou.records import Record


def rows(label: str, source: str, n: int) -> list[Record]:
    return [Record(id=f"{source}-{label}-{i}", text=f"post {i}", label=label, source=source) for i in range(n)]


def mass(records: list[Record], p: np.ndarray, **where: str) -> float:
    """Total probability of the records whose fields equal `where` (e.g. label="neutral", source="edos")."""
    return float(sum(pi for r, pi in zip(records, p) if all(getattr(r, k) == v for k, v in where.items())))


MIXED = [
    *rows("neutral", "edos", 400), *rows("neutral", "seed", 7), *rows("harassing", "edos", 90),
    *rows("supportive", "crowdcounter", 30), *rows("disclosure", "seed", 3),
]


def test_at_label_temperature_zero_every_label_gets_the_same_total_probability():
    p = sampling_probabilities(MIXED, label_temperature=0.0)
    assert p.sum() == pytest.approx(1.0)
    for label in LABELS:
        assert mass(MIXED, p, label=label) == pytest.approx(1 / len(LABELS))


@pytest.mark.parametrize("label_temperature", [0.5, 1.0])
def test_a_label_gets_a_share_in_proportion_to_its_rows_to_the_label_temperature(label_temperature):
    p = sampling_probabilities(MIXED, label_temperature=label_temperature)
    neutral, harassing = mass(MIXED, p, label="neutral"), mass(MIXED, p, label="harassing")
    assert neutral / harassing == pytest.approx((407 / 90) ** label_temperature)


@pytest.mark.parametrize(("temperature", "ratio"), [(0.5, 2.0), (1.0, 4.0), (0.0, 1.0)])
def test_within_a_label_a_source_with_four_times_the_rows_gets_rows_ratio_to_the_temperature(temperature, ratio):
    records = [*rows("neutral", "big", 40), *rows("neutral", "small", 10), *rows("harassing", "big", 5)]
    p = sampling_probabilities(records, temperature=temperature)
    big, small = mass(records, p, label="neutral", source="big"), mass(records, p, label="neutral", source="small")
    assert big / small == pytest.approx(ratio)


def test_rows_of_one_source_and_label_share_its_mass_evenly():
    records = [*rows("neutral", "big", 40), *rows("neutral", "small", 10)]
    p = sampling_probabilities(records)
    assert np.allclose(p[:40], p[0]) and np.allclose(p[40:], p[40])


def test_a_multiplier_scales_a_source_inside_its_label_only():
    records = [*rows("neutral", "a", 10), *rows("neutral", "b", 10), *rows("harassing", "a", 10),
               *rows("harassing", "b", 10)]
    p = sampling_probabilities(records, multipliers={"b": {"neutral": 3.0}}, temperature=0.0)
    neutral_a, neutral_b = mass(records, p, label="neutral", source="a"), mass(records, p, label="neutral", source="b")
    assert neutral_b / neutral_a == pytest.approx(3.0)
    harassing_a = mass(records, p, label="harassing", source="a")
    assert mass(records, p, label="harassing", source="b") == pytest.approx(harassing_a)
    assert mass(records, p, label="neutral") == pytest.approx(mass(records, p, label="harassing"))


P = np.array([0.0, 0.4, 0.0, 0.1, 0.2, 0.0, 0.3])
NONZERO = {1, 3, 4, 6}


def test_weighted_sample_returns_distinct_indices_of_the_requested_size():
    drawn = weighted_sample(P, 3, np.random.default_rng(0))
    assert len(drawn) == 3 and len(set(drawn.tolist())) == 3


@pytest.mark.parametrize("size", [4, 10, None], ids=["exactly_all", "more_than_all", "none"])
def test_weighted_sample_returns_every_possible_index_when_size_covers_them(size):
    drawn = weighted_sample(P, size, np.random.default_rng(0))
    assert sorted(drawn.tolist()) == sorted(NONZERO)


def test_weighted_sample_never_returns_an_index_with_zero_probability():
    rng = np.random.default_rng(1)
    for size in (1, 2, 3):
        for _ in range(200):
            assert set(weighted_sample(P, size, rng).tolist()) <= NONZERO


def test_weighted_sample_picks_high_probability_rows_more_often():
    rng = np.random.default_rng(7)
    draws = 4000
    counts = np.bincount(np.concatenate([weighted_sample(P, 1, rng) for _ in range(draws)]), minlength=len(P))
    # One draw picks index i with probability P[i]; the margin is over 5 standard deviations at 4,000 draws.
    assert np.all(np.abs(counts / draws - P) < 0.04)
    pairs = np.concatenate([weighted_sample(P, 2, rng) for _ in range(draws)])
    picked = np.bincount(pairs, minlength=len(P))
    assert picked[1] > picked[6] > picked[4] > picked[3] > 0


def test_a_tag_weight_counts_a_row_as_several_and_lifts_its_source():
    plain = rows("neutral", "seed", 10)
    tagged = [r.model_copy(update={"tags": ("identity_counterfactual",)}) for r in rows("neutral", "seed", 10)]
    public = rows("neutral", "edos", 40)
    base = sampling_probabilities([*plain, *tagged, *public], temperature=1.0)
    weighted = sampling_probabilities([*plain, *tagged, *public], temperature=1.0,
                                      tag_weights={"identity_counterfactual": 3.0})
    assert weighted[10] / weighted[0] == pytest.approx(3.0) and base[10] == pytest.approx(base[0])
    # the seed cell now counts 10 + 30 = 40 rows against edos's 40: half the label's mass, up from a third
    assert weighted[:20].sum() == pytest.approx(0.5) and base[:20].sum() == pytest.approx(1 / 3)
