"""Encoding rules shared by training and serving: clipping, segment pairs, length-bucketed batches."""

from __future__ import annotations

import numpy as np
import pytest

from withyou.encoding import clip_text, length_batches


def test_clip_text_keeps_head_and_tail_of_long_text():
    text = "a" * 3000 + "END"
    clipped = clip_text(text, head=10, tail=5)
    assert clipped.startswith("a" * 10) and clipped.endswith("aaEND")
    assert len(clipped) < 30
    assert clip_text("short", head=10, tail=5) == "short"


@pytest.mark.parametrize("max_items,max_tokens", [(1, 10_000), (4, 10_000), (64, 100), (3, 7)])
def test_length_batches_cover_every_post_once_within_limits(max_items, max_tokens):
    lengths = np.random.default_rng(0).integers(1, 130, size=97)
    batches = length_batches(lengths.tolist(), max_items, max_tokens)
    positions = np.concatenate(batches)
    assert sorted(positions.tolist()) == list(range(len(lengths)))
    for batch in batches:
        widest = lengths[batch].max()
        assert len(batch) <= max_items
        assert len(batch) == 1 or len(batch) * widest <= max_tokens  # one over-long post may stand alone
    widths = [lengths[b].max() for b in batches]
    assert widths == sorted(widths)  # similar lengths together: batches grow in width


def test_length_batches_of_nothing_is_empty():
    assert length_batches([], 8, 100) == []
