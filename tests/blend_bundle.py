"""A copy of the tiny bundle with a linear stage and a blend, fitted by training's own step (training/linear.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from withyou.bundle import Classifier


def with_linear_stage(bundle: Path, splits: dict, out_dir: Path) -> Path:
    """`bundle` copied to `out_dir` with linear.json, linear.npz and blend.json added (no cascade yet)."""
    from training.linear import add_linear_stage

    out = Path(shutil.copytree(bundle, out_dir))
    validation = splits["validation"]
    logits = Classifier.from_bundle(out).logits([r.text for r in validation], [r.parent_text for r in validation])
    add_linear_stage(out, splits["train"], np.ones(len(splits["train"])), validation, logits,
                     max_features=2000, min_df=1, C=4.0)
    return out
