"""The registry records each version's bundle digest, and resolving a version checks it (issue 22): a registered
bundle changed consistently in the artifact store — labels reordered in labels.json and metadata.json, or the
tokenizer's vocabulary shuffled, checksums recomputed — passes every check inside the bundle and served wrong
answers; it is now refused, naming the version and both digests."""

from __future__ import annotations

import json
import logging
import shutil

import pytest

from tests.tampering import TAMPERINGS, register_bundle, reorder_labels, store_copy, use_temporary_registry
from withyou.bundle import BundleError
from withyou.integrity import bundle_digest
from withyou.registry import DIGEST_TAG, MODEL_NAME, resolve_bundle

pytestmark = pytest.mark.slow


@pytest.fixture
def version(tiny_random_bundle, tmp_path, monkeypatch) -> str:
    """The tiny random bundle registered as a version of "withyou" (alias challenger) and promoted to champion."""
    from training.tracking import promote

    use_temporary_registry(tmp_path, monkeypatch)
    registered = register_bundle(tiny_random_bundle, tmp_path / "model")
    promote(registered)
    return registered


def registered_version(number: str):
    from mlflow import MlflowClient

    return MlflowClient().get_model_version(MODEL_NAME, number)


def test_registration_tags_the_version_with_its_bundle_digest(version, tmp_path):
    assert registered_version(version).tags[DIGEST_TAG] == bundle_digest(tmp_path / "model" / "bundle")
    assert bundle_digest(store_copy(version)) == registered_version(version).tags[DIGEST_TAG]


def test_the_digest_covers_metadata_json_so_recomputed_checksums_change_it(tiny_random_bundle, tmp_path):
    before = bundle_digest(tiny_random_bundle)
    bundle = shutil.copytree(tiny_random_bundle, tmp_path / "bundle")
    reorder_labels(bundle)
    assert bundle_digest(bundle) != before


@pytest.mark.parametrize("tampering", sorted(TAMPERINGS))
@pytest.mark.parametrize("ref", ["models:/withyou/{version}", "champion", "challenger", "runs:/{run_id}/bundle"])
def test_a_consistently_tampered_registered_bundle_is_refused(version, tmp_path, ref, tampering):
    expected = bundle_digest(tmp_path / "model" / "bundle")  # what was registered
    TAMPERINGS[tampering](store_copy(version))
    ref = ref.format(version=version, run_id=registered_version(version).run_id)

    with pytest.raises(BundleError) as refused:
        resolve_bundle(ref, cache_dir=tmp_path / "cache")

    message = str(refused.value)
    assert f"registered model 'withyou' version {version}" in message
    assert expected in message and bundle_digest(store_copy(version)) in message
    assert "\n" not in message


def test_a_tampered_cached_copy_is_downloaded_again(version, tmp_path):
    cached = resolve_bundle(f"models:/withyou/{version}", cache_dir=tmp_path / "cache")
    labels = json.loads((cached / "labels.json").read_text())
    reorder_labels(cached)

    again = resolve_bundle(f"models:/withyou/{version}", cache_dir=tmp_path / "cache")

    assert json.loads((again / "labels.json").read_text()) == labels
    assert bundle_digest(again) == registered_version(version).tags[DIGEST_TAG]


def test_a_version_registered_before_digests_loads_with_one_warning(version, tmp_path, caplog):
    from mlflow import MlflowClient

    MlflowClient().delete_model_version_tag(MODEL_NAME, version, DIGEST_TAG)
    with caplog.at_level(logging.WARNING, logger="withyou.bundle"):
        resolve_bundle("champion", cache_dir=tmp_path / "cache")
        resolve_bundle(f"models:/withyou/{version}", cache_dir=tmp_path / "cache")

    warnings = [r.getMessage() for r in caplog.records if "carries no bundle digest" in r.getMessage()]
    assert len(warnings) == 1 and f"version {version}" in warnings[0]
