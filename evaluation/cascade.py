"""The cascade's bar, fitted on validation, and what it covers (withyou/blend.py says how serving uses it).

A post the linear stage reads is answered by it alone when its P_linear(harassing) is under the bar (and under
the review threshold): action allow, no transformer run. `fit_cascade` picks the highest bar at which, on the
validation split and against the full blend at the fitted thresholds,

- at most MAX_ACTION_CHANGE of all posts get another action, and
- no disclosure the blend hides is answered by the linear stage (0 changed hide decisions on disclosures).

`coverage` reports, for any set of posts, the share the linear stage answers and the action agreement with the
blend. `realistic_mix` is the traffic the speed figures assume: mostly benign replies (REALISTIC_HARASSING_SHARE
harassing), drawn from the test split.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from withyou.labels import LABELS
from withyou.policy import Thresholds, decide_action
from withyou.records import Record

MAX_ACTION_CHANGE = 0.005
REALISTIC_HARASSING_SHARE = 0.05
REALISTIC_MIX_SIZE = 2000
DISCLOSURE = LABELS.index("disclosure")


def actions(p_harassing: np.ndarray, thresholds: Thresholds) -> np.ndarray:
    return np.array([decide_action(float(p), thresholds) for p in p_harassing])


def fit_cascade(
    y: np.ndarray, blend_p_harassing: np.ndarray, linear_p_harassing: np.ndarray, reads_linear: np.ndarray,
    thresholds: Thresholds, max_action_change: float = MAX_ACTION_CHANGE,
) -> dict[str, Any]:
    """The bar (`linear_allow_below`) and what it does on the fitting set (module docstring). `y` are label ids in
    LABELS order; the P(harassing) arrays are per post; `reads_linear` marks the posts the linear stage reads."""
    n = len(y)
    blend_actions = actions(blend_p_harassing, thresholds)
    candidates = np.flatnonzero(np.asarray(reads_linear, dtype=bool))
    order = candidates[np.argsort(linear_p_harassing[candidates], kind="stable")]
    changed = np.cumsum(blend_actions[order] != "allow")
    hidden_disclosures = np.cumsum((blend_actions[order] == "hide") & (y[order] == DISCLOSURE))
    allowed = (changed <= max_action_change * n) & (hidden_disclosures == 0)
    # the cascade answers the first k posts in this order; k is the longest prefix that stays within the limits
    k = int(np.argmin(allowed)) if not allowed.all() else len(order)
    values = linear_p_harassing[order]
    while 0 < k < len(order) and values[k] == values[k - 1]:  # a bar cannot split tied posts
        k -= 1
    bar = float(values[k]) if k < len(order) else float(np.nextafter(values[-1], 1.0)) if len(order) else 0.0
    bar = min(bar, thresholds.review)
    answered = np.zeros(n, dtype=bool)
    answered[candidates[linear_p_harassing[candidates] < bar]] = True
    return {
        "linear_allow_below": bar,
        "fitted_on": "validation",
        "max_action_change": max_action_change,
        "n": n,
        "answered_by_linear": float(answered.mean()) if n else 0.0,
        "action_changes": int((answered & (blend_actions != "allow")).sum()),
        "disclosure_hide_changes": int((answered & (blend_actions == "hide") & (y == DISCLOSURE)).sum()),
    }


def coverage(stages: Sequence[str], served_actions: Sequence[str], blend_actions: Sequence[str],
             y: np.ndarray | None = None) -> dict[str, Any]:
    """Share answered by the linear stage, and how the cascade's actions compare with the full blend's."""
    stages, served, blend = np.asarray(stages), np.asarray(served_actions), np.asarray(blend_actions)
    n = len(stages)
    out = {
        "n": n,
        "answered_by_linear": float((stages == "linear").mean()) if n else None,
        "action_agreement": float((served == blend).mean()) if n else None,
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
