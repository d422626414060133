"""The one bundle resolver: a bundle reference → a local bundle directory. Every command that takes a model
(`serve`, `evaluate`, `up`, `retrain`, `score`, the review sink through the server) resolves it here.

    artifacts/models/<version>/bundle      a bundle directory
    artifacts/models/<version>             a model directory holding bundle/
    20261129-195152-ce838164               a model version folder under artifacts/models/ (withyou.paths.models_dir)
    models:/withyou@champion               a registered-model alias in the MLflow store (withyou.paths)
    models:/withyou/3                      a registered-model version
    runs:/<run_id>/bundle                  a run's logged bundle
    champion, challenger                   bare aliases of the registered model (unless a folder of that name exists)

Registry references are downloaded once into <artifacts>/registry/<name>/<version>/ and reused. A registered
version carries its bundle's content digest (model-version tag `bundle_sha256`: withyou.integrity.bundle_digest,
set at registration and again when evaluation rewrites the bundle's thresholds): every resolution of a version —
alias, number, or a runs:/ reference to a registered run's bundle — compares the bundle with it, downloads again
when a cached copy differs, and raises BundleError naming the version and both digests when the artifact store's
copy differs (a file changed after registration, however consistently). A version registered before digests
were recorded loads with one warning. mlflow is imported only for registry references; this module never
imports torch.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from withyou import paths
from withyou.bundle import BundleError, check_bundle_dir
from withyou.integrity import bundle_digest

MODEL_NAME = "withyou"
"""The registered model's name (MLflow) — declared here only."""
CHAMPION, CHALLENGER = "champion", "challenger"
ALIASES = (CHAMPION, CHALLENGER)
CHAMPION_REF = f"models:/{MODEL_NAME}@{CHAMPION}"
"""What `serve`, `up` and `score` use when no model is named."""
DIGEST_TAG = "bundle_sha256"
"""Model-version tag holding withyou.integrity.bundle_digest of the version's bundle."""
FLOOR_TAG = "floor"
"""Model-version tag holding evaluation's baseline-floor verdict, "<status>: <line with the numbers>"
(evaluation/gate.py `floor`); `withyou promote` reads it before moving the champion alias."""
FLOOR_PASS, FLOOR_FAIL, FLOOR_NONE = "pass", "fail", "none"
"""The floor's statuses: above the baseline, below it, or no real-text benchmark to check it on."""
BUNDLE_ARTIFACT = "bundle"
"""The run artifact path a registered version's bundle is logged under (training/tracking.py)."""

log = logging.getLogger("withyou.bundle")
_warned_undigested: set[tuple[str, str]] = set()

_MODEL_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))/?$")


def resolve_bundle(ref: str | Path, cache_dir: Path | None = None) -> Path:
    """A local, complete bundle directory for `ref`; raises BundleError with the reason when there is none."""
    text = str(ref).strip()
    if text in ALIASES and not Path(text).exists():
        text = f"models:/{MODEL_NAME}@{text}"
    if text.startswith("models:/"):
        return _registered_bundle(text, cache_dir)
    if text.startswith("runs:/"):
        return _run_bundle(text, cache_dir)
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
    return _checked_download(f"models:/{name}/{found.version}", target, found)


def _run_bundle(uri: str, cache_dir: Path | None) -> Path:
    """A run's logged bundle, checked against the digest of the version registered from it, if there is one."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(paths.mlflow_tracking_uri())
    run_id, _, artifact_path = uri[len("runs:/") :].strip("/").partition("/")
    target = _cache_root(cache_dir) / "runs" / run_id / artifact_path
    registered = []
    if artifact_path.strip("/") == BUNDLE_ARTIFACT:
        registered = MlflowClient().search_model_versions(f"name = '{MODEL_NAME}' and run_id = '{run_id}'")
    if not registered:
        return _download(uri, target)  # not a registered version: nothing recorded to check against
    return _checked_download(uri, target, max(registered, key=lambda v: int(v.version)))


def _checked_download(uri: str, target: Path, version: Any) -> Path:
    """`_download`, then the bundle compared with the digest the registry records for `version` (an MLflow
    ModelVersion). A cached copy that differs is downloaded again; a download that differs is refused."""
    expected = version.tags.get(DIGEST_TAG)
    what = f"registered model {version.name!r} version {version.version}"
    if expected is None:
        if (paths.mlflow_tracking_uri(), what) not in _warned_undigested:
            _warned_undigested.add((paths.mlflow_tracking_uri(), what))
            log.warning("%s carries no bundle digest (registered before digests were recorded): its files are not "
                        "checked against the registry; register the bundle again to record one", what)
        return _download(uri, target)
    path = _download(uri, target)
    if bundle_digest(path) == expected:
        return path
    path = _download(uri, target, fresh=True)
    actual = bundle_digest(path)
    if actual != expected:
        raise BundleError(f"{what}: its bundle's digest is {actual}, but {expected} was recorded at registration "
                          f"(tag {DIGEST_TAG}) — its files were changed in the artifact store since; refusing to "
                          "load it (register a bundle again)")
    return path


def record_bundle_digest(run_id: str, bundle_dir: Path) -> list[str]:
    """Set DIGEST_TAG to `bundle_dir`'s digest on every registered version of run `run_id`; returns their numbers.
    For whoever rewrites files of a registered bundle legitimately (evaluation: thresholds, calibration)."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=paths.mlflow_tracking_uri())
    digest = bundle_digest(bundle_dir)
    versions = client.search_model_versions(f"name = '{MODEL_NAME}' and run_id = '{run_id}'")
    for version in versions:
        client.set_model_version_tag(MODEL_NAME, version.version, DIGEST_TAG, digest)
    return [str(version.version) for version in versions]


def _download(uri: str, target: Path, fresh: bool = False) -> Path:
    """Download once (again when `fresh`): into a temporary sibling, checked, then renamed into place."""
    import mlflow

    if (target / "model.onnx").is_file() and not fresh:
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
