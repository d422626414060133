"""The one bundle resolver: a bundle reference → a local bundle directory. Every command that takes a model
(`serve`, `evaluate`, `up`, `retrain`, `score`, the review sink through the server) resolves it here.

    artifacts/models/<version>/bundle      a bundle directory
    artifacts/models/<version>             a model directory holding bundle/
    20261129-195152-ce838164               a model version folder under artifacts/models/ (withyou.paths.models_dir)
    models:/withyou@champion               a registered-model alias in the MLflow store (withyou.paths)
    models:/withyou/3                      a registered-model version
    runs:/<run_id>/bundle                  a run's logged bundle
    champion, challenger                   bare aliases of the registered model (unless a folder of that name exists)

Registry references are downloaded once into <artifacts>/registry/<name>/<version>/ and reused. mlflow is
imported only for those; this module never imports torch.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from withyou import paths
from withyou.bundle import BundleError, check_bundle_dir

MODEL_NAME = "withyou"
"""The registered model's name (MLflow) — declared here only."""
CHAMPION, CHALLENGER = "champion", "challenger"
ALIASES = (CHAMPION, CHALLENGER)
CHAMPION_REF = f"models:/{MODEL_NAME}@{CHAMPION}"
"""What `serve`, `up` and `score` use when no model is named."""

_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))/?$")


def resolve_bundle(ref: str | Path, cache_dir: Path | None = None) -> Path:
    """A local, complete bundle directory for `ref`; raises BundleError with the reason when there is none."""
    text = str(ref).strip()
    if text in ALIASES and not Path(text).exists():
        text = f"models:/{MODEL_NAME}@{text}"
    if text.startswith("models:/"):
        return _registered_bundle(text, cache_dir)
    if text.startswith("runs:/"):
        return _download(text, _cache_root(cache_dir) / "runs" / text[len("runs:/") :].strip("/"))
    path = Path(text).expanduser()
    if not path.exists() and "/" not in text and (paths.models_dir() / text).is_dir():
        path = paths.models_dir() / text
    if not (path / "model.onnx").exists() and (path / "bundle").is_dir():
        path = path / "bundle"
    check_bundle_dir(path)
    return path.resolve()


def _cache_root(cache_dir: Path | None) -> Path:
    return Path(cache_dir) if cache_dir else paths.registry_cache_dir()


def _registered_bundle(uri: str, cache_dir: Path | None) -> Path:
    match = _MODEL_URI.match(uri)
    if not match:
        raise BundleError(f"unsupported model URI {uri!r}; use models:/NAME@ALIAS or models:/NAME/VERSION")
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(paths.mlflow_tracking_uri())
    name, alias, version = match["name"], match["alias"], match["version"]
    client = MlflowClient()
    try:
        found = client.get_model_version_by_alias(name, alias) if alias else client.get_model_version(name, version)
    except MlflowException:
        what = f"alias {alias!r}" if alias else f"version {version}"
        raise BundleError(
            f"registered model {name!r} has no {what} in {paths.mlflow_tracking_uri()} "
            "(train with `withyou train`; promote with `withyou promote VERSION`)"
        ) from None
    target = _cache_root(cache_dir) / name / str(found.version)
    return _download(f"models:/{name}/{found.version}", target)


def _download(uri: str, target: Path) -> Path:
    """Download once: into a temporary sibling, checked, then renamed into place."""
    import mlflow

    if (target / "model.onnx").is_file():
        check_bundle_dir(target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(staging)))
        check_bundle_dir(local)
        shutil.rmtree(target, ignore_errors=True)
        local.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
