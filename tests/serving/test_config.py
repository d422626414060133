"""Serving settings: environment, overrides and the hand-off to worker processes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from serving.config import ServingSettings
from withyou.policy import Thresholds

BUNDLE = Thresholds(review=0.4, hide=0.8, source="validation")


def test_no_override_keeps_the_bundle_thresholds():
    assert ServingSettings().thresholds(BUNDLE) == BUNDLE


def test_override_replaces_one_threshold_and_marks_the_source():
    thresholds = ServingSettings(hide_threshold=0.95).thresholds(BUNDLE)

    assert (thresholds.review, thresholds.hide, thresholds.source) == (0.4, 0.95, "config")


def test_override_below_the_bundle_review_threshold_is_refused():
    with pytest.raises(ValidationError, match="above hide threshold"):
        ServingSettings(hide_threshold=0.2).thresholds(BUNDLE)


def test_settings_survive_the_trip_through_environment_variables(monkeypatch):
    settings = ServingSettings(
        bundle="/tmp/b", port=4000, api_key="k", review_actions={"hide"}, review_threshold=0.3, max_items=10
    )
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)

    assert ServingSettings() == settings


def test_api_key_never_appears_in_the_logged_summary():
    summary = ServingSettings(api_key="very-secret").safe_summary()

    assert summary["api_key"] == "set"
    assert "very-secret" not in str(summary)


def test_metrics_token_never_appears_in_the_logged_summary():
    summary = ServingSettings(metrics_token="token-secret").safe_summary()

    assert summary["metrics_token"] == "set"
    assert "token-secret" not in str(summary)


def test_threads_split_the_cores_between_workers():
    assert ServingSettings(ort_threads=3).threads_per_worker() == 3
    assert ServingSettings(workers=64).threads_per_worker() == 1
