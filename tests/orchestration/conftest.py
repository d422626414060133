"""`env`: a command's environment with its own artifacts folder and MLflow store; `fp32_bundle`: the tiny bundle
serving its full-precision graph.

Dynamic int8 quantisation scales activations per run, so the int8 graph's scores move a little (~1e-3) with the
batch a post shares; the tiny model's near-tied logits can then flip a label. The fp32 graph answers the same
whatever the batching, which lets the score and Spark tests demand equal labels from differently batched runs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from withyou.integrity import record_checksums


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    """Environment for a CLI run: a fresh artifacts folder and MLflow store, no bundle pinned."""
    return {
        "WITHYOU_ARTIFACTS": str(tmp_path / "artifacts"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}",
        "WITHYOU_BUNDLE": "",
    }


@pytest.fixture(scope="session")
def fp32_bundle(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    bundle = tmp_path_factory.mktemp("fp32_bundle") / "bundle"
    shutil.copytree(tiny_bundle, bundle)
    shutil.copyfile(bundle / "model.fp32.onnx", bundle / "model.onnx")
    record_checksums(bundle)  # the swapped graph is this bundle's model.onnx now (withyou/integrity.py)
    return bundle
