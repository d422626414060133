"""Register a bundle in a temporary MLflow registry the way `withyou train` does, and tamper with the registered
copy the way someone with write access to the artifact store (not the registry) would: consistently, so that the
bundle's own checks (file checksums, labels.json = metadata.json `labels`) still pass (issue 22)."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

from withyou.integrity import record_checksums
from withyou.registry import MODEL_NAME


def use_temporary_registry(root: Path, monkeypatch) -> None:
    """An empty MLflow store and artifacts folder under `root` for this test (and the processes it starts)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow' / 'mlflow.db'}")
    monkeypatch.setenv("WITHYOU_ARTIFACTS", str(root / "artifacts"))
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


def register_bundle(source: Path, model_dir: Path) -> str:
    """Log and register a copy of `source` with training's own tracking code (model_dir/bundle, its metadata
    carrying the run id as training writes it); returns the registered version."""
    from training.tracking import TrainingRun

    bundle = Path(shutil.copytree(source, model_dir / "bundle"))
    with TrainingRun({}, "tiny", "tiny-v") as run:
        metadata = json.loads((bundle / "metadata.json").read_text())
        (bundle / "metadata.json").write_text(json.dumps({**metadata, "mlflow_run_id": run.run_id}))
        run.log_outputs(model_dir)
        return run.register()


def store_copy(version: str) -> Path:
    """The registered version's bundle in the artifact store (a local folder for a sqlite:/// store)."""
    from mlflow import MlflowClient

    uri = MlflowClient().get_model_version_download_uri(MODEL_NAME, version)
    return Path(url2pathname(urlparse(uri).path))


def reorder_labels(bundle: Path) -> None:
    """Swap "harassing" and "neutral" in labels.json and metadata.json `labels`, then record the checksums again:
    the graph's harassing column is now read as neutral."""
    labels = json.loads((bundle / "labels.json").read_text())
    first, second = labels.index("harassing"), labels.index("neutral")
    labels[first], labels[second] = labels[second], labels[first]
    (bundle / "labels.json").write_text(json.dumps(labels))
    metadata = json.loads((bundle / "metadata.json").read_text())
    (bundle / "metadata.json").write_text(json.dumps({**metadata, "labels": labels}))
    record_checksums(bundle)


def shuffle_vocabulary(bundle: Path) -> None:
    """Give the tokenizer's ordinary tokens each other's ids (special tokens keep theirs, so it still loads), then
    record the checksums again: every post reaches the model as other words."""
    tokenizer = json.loads((bundle / "tokenizer.json").read_text())
    vocabulary = tokenizer["model"]["vocab"]
    special = {token["content"] for token in tokenizer["added_tokens"]}
    ordinary = [token for token in vocabulary if token not in special]
    ids = [vocabulary[token] for token in ordinary]
    random.Random(0).shuffle(ids)
    vocabulary.update(zip(ordinary, ids))
    (bundle / "tokenizer.json").write_text(json.dumps(tokenizer))
    record_checksums(bundle)


TAMPERINGS = {"reordered labels": reorder_labels, "shuffled vocabulary": shuffle_vocabulary}
