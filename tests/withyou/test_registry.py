"""One bundle-reference grammar (withyou/registry.py) for every command that takes a model."""

from __future__ import annotations

import shutil

import pytest

from withyou.bundle import BundleError
from withyou.registry import CHAMPION_REF, MODEL_NAME, resolve_bundle


@pytest.fixture()
def artifacts(tmp_path, monkeypatch, tiny_bundle):
    """An artifacts folder holding one trained model, artifacts/models/v1/bundle, and an empty MLflow store."""
    monkeypatch.setenv("WITHYOU_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    shutil.copytree(tiny_bundle, tmp_path / "artifacts" / "models" / "v1" / "bundle")
    return tmp_path / "artifacts"


def test_bundle_directory_model_directory_and_version_name_resolve_to_the_same_bundle(artifacts):
    bundle = (artifacts / "models" / "v1" / "bundle").resolve()
    assert resolve_bundle(bundle) == bundle
    assert resolve_bundle(artifacts / "models" / "v1") == bundle
    assert resolve_bundle("v1") == bundle


def test_bare_alias_means_the_registered_alias(artifacts):
    with pytest.raises(BundleError, match=f"registered model '{MODEL_NAME}' has no alias 'champion'"):
        resolve_bundle("champion")
    assert CHAMPION_REF == f"models:/{MODEL_NAME}@champion"


def test_a_folder_named_like_an_alias_wins_over_the_registry(artifacts, tmp_path, monkeypatch):
    shutil.copytree(artifacts / "models" / "v1" / "bundle", tmp_path / "champion")
    monkeypatch.chdir(tmp_path)
    assert resolve_bundle("champion") == (tmp_path / "champion").resolve()


@pytest.mark.parametrize("ref", ["models:/withyou", "models:/withyou@", "nowhere/at/all", "v2"])
def test_unknown_references_are_refused_with_the_reason(artifacts, ref):
    with pytest.raises(BundleError):
        resolve_bundle(ref)
