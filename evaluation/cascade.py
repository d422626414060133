"""The cascade's bar, fitted on validation, and what it covers (withyou/blend.py says how serving uses it).

A post the linear stage reads is answered by it alone when its P_linear(harassing) is under the bar (and under
the review threshold) and its top label is sure enough: action allow, no transformer run. `fit_cascade` picks,
on the validation split and against the full blend at the fitted thresholds,

- the highest bar at which at most MAX_ACTION_CHANGE of all posts get another action and no disclosure the blend
  hides is answered by the linear stage (0 changed hide decisions on disclosures);
- then, among the posts under that bar, the lowest sureness bar (on the linear stage's top-label probability) at
  which at most MAX_LABEL_CHANGE of all posts get another label than the blend's: the cascade saves compute
  without serving a weaker model.

`coverage` reports, for any set of posts, the share the linear stage answers and the action agreement with the
blend. `realistic_mix` is the traffic the speed figures assume: mostly benign posts (REALISTIC_HARASSING_SHARE
harassing), drawn from the test split (evaluation/stages.py draws one from all its posts and one from its replies).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from withyou.labels import LABELS
from withyou.policy import Thresholds, decide_action
from withyou.records import Record

MAX_ACTION_CHANGE = 0.005
MAX_LABEL_CHANGE = 0.005
REALISTIC_HARASSING_SHARE = 0.05
REALISTIC_MIX_SIZE = 2000
DISCLOSURE = LABELS.index("disclosure")
HARASSING = LABELS.index("harassing")


def actions(p_harassing: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    return np.array([decide_action(float(p), thresholds) for p in p_harassing])


def fit_cascade(
    y: np.ndarray, blend_probs: np.ndarray, linear_probs: np.ndarray, reads_linear: np.ndarray,
    thresholds: Thresholds, max_action_change: float = MAX_ACTION_CHANGE, max_label_change: float = MAX_LABEL_CHANGE,
) -> dict[str, Any]:
    """The bars (`linear_allow_below`, `linear_sure_above`) and what they do on the fitting set (module docstring).
    `y` are label ids in LABELS order; the probability arrays are [n, LABELS] per post; `reads_linear` marks the
    posts the linear stage reads."""
    n = len(y)
    blend_p, linear_p = blend_probs[:, HARASSING], linear_probs[:, HARASSING]
    blend_actions = actions(blend_p, thresholds)
    candidates = np.flatnonzero(np.asarray(reads_linear, dtype=bool))
    order = candidates[np.argsort(linear_p[candidates], kind="stable")]
    changed = np.cumsum(blend_actions[order] != "allow")
    hidden_disclosures = np.cumsum((blend_actions[order] == "hide") & (y[order] == DISCLOSURE))
    allowed = (changed <= max_action_change * n) & (hidden_disclosures == 0)
    bar = min(prefix_bar(linear_p[order], allowed, ascending=True), thresholds.review)
    under = candidates[linear_p[candidates] < bar]
    sure = linear_probs[under].max(axis=1)
    by_sureness = np.argsort(-sure, kind="stable")
    other_label = blend_probs[under].argmax(axis=1) != linear_probs[under].argmax(axis=1)
    relabelled = np.cumsum(other_label[by_sureness])
    sure_above = prefix_bar(sure[by_sureness], relabelled <= max_label_change * n, ascending=False)
    answered = np.zeros(n, dtype=bool)
    answered[under[sure > sure_above]] = True
    return {
        "linear_allow_below": bar,
        "linear_sure_above": sure_above,
        "fitted_on": "validation",
        "max_action_change": max_action_change,
        "max_label_change": max_label_change,
        "n": n,
        "answered_by_linear": float(answered.mean()) if n else 0.0,
        "action_changes": int((answered & (blend_actions != "allow")).sum()),
        "label_changes": int((answered & (blend_probs.argmax(axis=1) != linear_probs.argmax(axis=1))).sum()),
        "disclosure_hide_changes": int((answered & (blend_actions == "hide") & (y == DISCLOSURE)).sum()),
    }


def prefix_bar(values: np.ndarray, allowed: np.ndarray, ascending: bool) -> float:
    """The bar that admits the longest allowed prefix of `values` (sorted ascending: `value < bar` admits;
    descending: `value > bar` admits); a bar cannot split tied values, so the prefix shrinks to a tie's edge."""
    k = int(np.argmin(allowed)) if not allowed.all() else len(values)
    while 0 < k < len(values) and values[k] == values[k - 1]:
        k -= 1
    if k < len(values):
        return float(values[k])
    if not len(values):
        return 0.0 if ascending else 1.0
    return float(np.nextafter(values[-1], 1.0)) if ascending else 0.0


def coverage(stages: Sequence[str], served_probs: np.ndarray, blend_probs: np.ndarray, thresholds: Thresholds,
             y: np.ndarray | None = None) -> dict[str, Any]:
    """Share answered by the linear stage, and how the cascade's actions and labels compare with the full blend's
    (probability arrays [n, LABELS])."""
    stages = np.asarray(stages)
    served, blend = actions(served_probs[:, HARASSING], thresholds), actions(blend_probs[:, HARASSING], thresholds)
    n = len(stages)
    out = {
        "n": n,
        "answered_by_linear": float((stages == "linear").mean()) if n else None,
        "action_agreement": float((served == blend).mean()) if n else None,
        "label_agreement": float((served_probs.argmax(axis=1) == blend_probs.argmax(axis=1)).mean()) if n else None,
        "hide_changes": int(((blend == "hide") != (served == "hide")).sum()),
    }
    if y is not None:
        disclosure = np.asarray(y) == DISCLOSURE
        out["disclosure_hide_changes"] = int((disclosure & ((blend == "hide") != (served == "hide"))).sum())
    return out


def realistic_mix(records: Sequence[Record], size: int = REALISTIC_MIX_SIZE,
                  harassing_share: float = REALISTIC_HARASSING_SHARE, seed: int = 13) -> list[Record]:
    """`size` posts drawn (with replacement where a pool is short) from `records`: `harassing_share` harassing,
    the rest the other labels in their own proportions, shuffled with `seed`."""
    rng = np.random.default_rng(seed)
    harassing = [r for r in records if r.label == "harassing"]
    benign = [r for r in records if r.label != "harassing"]
    if not harassing or not benign:
        return list(records)
    n_harassing = int(round(size * harassing_share))
    chosen = [harassing[i] for i in rng.choice(len(harassing), n_harassing, replace=len(harassing) < n_harassing)]
    n_benign = size - n_harassing
    chosen += [benign[i] for i in rng.choice(len(benign), n_benign, replace=len(benign) < n_benign)]
    return [chosen[i] for i in rng.permutation(len(chosen))]
