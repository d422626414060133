"""Issue 11 item 4 (review part): reviewers decide among the bundle's labels, not a list declared in serving.

The label set reaches the app as a tuple (from a bundle's labels.json, or withyou.labels.LABELS when no bundle is
configured); a fifth label is accepted by decide and shown in the UI, with a shortcut key of its own.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from review.app import build_app
from review.config import ReviewSettings, label_set
from review.store import ReviewError, ReviewStore
from review.ui import shortcuts
from tests.review.conftest import ALICE_KEY, write_reviewers
from tests.review.helpers import candidate
from withyou.bundle import BUNDLE_FILES, BundleError
from withyou.labels import LABELS

FIVE = ("disclosure", "supportive", "harassing", "neutral", "self_harm")
AUTH = {"X-Review-Key": ALICE_KEY}


def fake_bundle(directory, labels) -> str:
    """A bundle directory whose only meaningful file is labels.json (the review app reads nothing else)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in BUNDLE_FILES:
        (directory / name).write_text("{}", encoding="utf-8")
    (directory / "labels.json").write_text(json.dumps(labels), encoding="utf-8")
    return str(directory)


def five_label_client(tmp_path) -> tuple[TestClient, int]:
    settings = ReviewSettings(db=str(tmp_path / "review.db"), reviewers_file=write_reviewers(tmp_path))
    app = build_app(settings, labels=FIVE)
    scores = {"disclosure": 0.1, "supportive": 0.1, "harassing": 0.2, "neutral": 0.1, "self_harm": 0.5}
    item_id = app.state.store.enqueue(replace(candidate("five", 0.2), scores=scores))
    return TestClient(app), item_id


def test_a_fifth_label_is_accepted_by_decide(tmp_path):
    client, item_id = five_label_client(tmp_path)

    decided = client.post(f"/api/items/{item_id}/decide", json={"decision": "self_harm"}, headers=AUTH)

    assert decided.status_code == 200, decided.text
    assert decided.json()["decided_label"] == "self_harm"
    assert client.get("/api/labels", headers=AUTH).json() == {"labels": list(FIVE), "decisions": [*FIVE, "escalate"]}


def test_a_fifth_label_is_a_button_with_its_own_key_and_a_score_row(tmp_path):
    client, item_id = five_label_client(tmp_path)

    page = client.get(f"/items/{item_id}", headers=AUTH).text
    buttons = dict(re.findall(r'data-decision="([a-z_]+)" data-key="([a-z])"', page))

    assert buttons == {"disclosure": "d", "supportive": "s", "harassing": "h", "neutral": "n", "self_harm": "l", "escalate": "e"}
    assert '<tr data-label="self_harm"><th>self_harm</th>' in page and "0.500" in page


def test_an_item_scored_by_a_four_label_model_still_renders_under_five_labels(tmp_path):
    client, _ = five_label_client(tmp_path)
    old_item = client.app.state.store.enqueue(candidate("old-model", 0.9))

    page = client.get(f"/items/{old_item}", headers=AUTH)

    assert page.status_code == 200
    assert "not scored by this model" in page.text


def test_without_a_bundle_the_labels_are_the_core_ones_and_others_are_refused(tmp_path):
    settings = ReviewSettings(db=str(tmp_path / "review.db"), reviewers_file=write_reviewers(tmp_path))
    client = TestClient(build_app(settings))
    item_id = client.app.state.store.enqueue(candidate("four", 0.9))

    refused = client.post(f"/api/items/{item_id}/decide", json={"decision": "self_harm"}, headers=AUTH)

    assert label_set(None) == LABELS
    assert refused.status_code == 400
    assert refused.json()["error"] == f"decision must be one of {', '.join(LABELS)}, escalate; got 'self_harm'"


def test_the_label_set_is_read_from_the_configured_bundle(tmp_path):
    bundle = fake_bundle(tmp_path / "bundle", list(FIVE))
    settings = ReviewSettings(db=str(tmp_path / "review.db"), reviewers_file=write_reviewers(tmp_path), bundle=bundle)

    app = build_app(settings)

    assert app.state.labels == FIVE and app.state.store.labels == FIVE


@pytest.mark.parametrize("labels", [["harassing"], ["a", "a"], ["harassing", "escalate"], ["Harassing", "x"], {"a": 1}])
def test_a_bad_labels_file_is_refused_naming_the_file(tmp_path, labels):
    bundle = fake_bundle(tmp_path / "bundle", labels)

    with pytest.raises(BundleError, match=re.escape(str(tmp_path / "bundle" / "labels.json"))):
        label_set(bundle)


def test_the_store_and_the_app_must_agree_on_the_labels(tmp_path):
    settings = ReviewSettings(db=str(tmp_path / "review.db"), reviewers_file=write_reviewers(tmp_path))

    with pytest.raises(ValueError, match="the review store decides"):
        build_app(settings, store=ReviewStore(settings.database_url()), labels=FIVE)


def test_shortcut_keys_skip_taken_and_reserved_letters():
    assert shortcuts(("harassing", "hate", "judgement", "unknown")) == {
        "harassing": "h", "hate": "a", "judgement": "d", "unknown": "n", "escalate": "e",
    }  # fmt: skip


def test_exporting_a_label_the_dataset_schema_lacks_is_a_clear_error(tmp_path):
    from review.export import export_reviewed

    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}", labels=FIVE)
    store.decide(store.enqueue(candidate("five", 0.2, text="zqxj-post")), "alice", "self_harm")

    with pytest.raises(ReviewError, match=r"review item 1 cannot be exported: label") as caught:
        export_reviewed(store, tmp_path / "reviewed.jsonl")
    assert "zqxj" not in caught.value.message
