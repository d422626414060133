"""Evaluation scores each distinct post once per model part, however many columns grade it."""

from __future__ import annotations

import numpy as np

from evaluation.stages import Remembered


def test_each_distinct_post_is_scored_once_and_answers_keep_their_order():
    calls = []

    def score(texts, parents):
        calls.append(list(zip(texts, parents)))
        rows = [[len(t), 0 if p is None else len(p)] for t, p in zip(texts, parents)]
        return np.array(rows, dtype=float).reshape(len(rows), 2)

    remembered = Remembered(score)
    first = remembered(["a", "bb", "a"], [None, "x", None])
    second = remembered(["bb", "ccc"], ["x", None])

    assert first.tolist() == [[1, 0], [2, 1], [1, 0]] and second.tolist() == [[2, 1], [3, 0]]
    assert calls == [[("a", None), ("bb", "x")], [("ccc", None)]]
    assert remembered(["a"], ["other parent"]).tolist() == [[1, 12]]  # the parent is part of the post
    assert remembered([], []).shape == (0, 2)
