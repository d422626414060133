"""Reviewer credentials: the reviewers file is checked at start-up, keys never equal the classify key, CSRF tokens."""

from __future__ import annotations

import hashlib
import json

import pytest

from review.config import ReviewSettings
from review.security import Reviewers, ReviewerConfigError


def reviewers_file(tmp_path, entries) -> object:
    path = tmp_path / "reviewers.json"
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"alice": "short"}, "shorter than 16"),
        ({"al ice": "long-enough-key-0123"}, "reviewer name"),
        ({"alice": "sha256:abc"}, "64 hex digits"),
        ({}, "at least|≥ 1 entry"),
    ],
)
def test_a_bad_reviewers_file_is_refused_with_the_reason(tmp_path, entries, message):
    with pytest.raises(ReviewerConfigError, match=message):
        Reviewers.load(reviewers_file(tmp_path, entries))


def test_a_reviewer_key_equal_to_the_classify_key_is_refused(tmp_path):
    path = reviewers_file(tmp_path, {"alice": "the-same-key-0123456789"})

    with pytest.raises(ReviewerConfigError, match="classify API key"):
        Reviewers.load(path, classify_key="the-same-key-0123456789")


def test_hashed_and_plain_keys_both_authenticate(tmp_path):
    hashed = "sha256:" + hashlib.sha256(b"bob-key-0123456789abc").hexdigest()
    reviewers = Reviewers.load(reviewers_file(tmp_path, {"alice": "alice-key-0123456789", "bob": hashed}))

    assert reviewers.by_key("alice-key-0123456789").name == "alice"
    assert reviewers.by_basic("bob", "bob-key-0123456789abc").name == "bob"
    assert reviewers.by_basic("alice", "bob-key-0123456789abc") is None


def test_csrf_tokens_are_per_reviewer_and_change_with_the_secret(tmp_path):
    path = reviewers_file(tmp_path, {"alice": "alice-key-0123456789", "bob": "bob-key-0123456789abc"})
    plain, salted = Reviewers.load(path), Reviewers.load(path, secret="s3cret")
    alice, bob = plain.by_key("alice-key-0123456789"), plain.by_key("bob-key-0123456789abc")

    assert plain.csrf_ok(alice, plain.csrf_token(alice))
    assert not plain.csrf_ok(alice, plain.csrf_token(bob))
    assert not salted.csrf_ok(alice, plain.csrf_token(alice))


def test_review_routes_answer_404_until_reviewers_are_configured():
    from starlette.testclient import TestClient

    from review.app import review_app

    response = TestClient(review_app(ReviewSettings(reviewers_file=None))).get("/api/queue")

    assert response.status_code == 404
    assert "WITHYOU_REVIEW_REVIEWERS_FILE" in response.json()["error"]
