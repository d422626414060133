"""`withyou review export` (labelled JSONL in the dataset schema) and `withyou review purge` (retention)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from review.export import export_reviewed
from review.models import utc_now
from review.store import ReviewStore
from tests.review.helpers import candidate
from orchestration.cli import app
from withyou.records import read_jsonl


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "review.db"


@pytest.fixture
def store(db_path) -> ReviewStore:
    return ReviewStore(f"sqlite:///{db_path}")


def test_export_writes_decided_items_as_review_records_with_their_parent(store, tmp_path):
    confirmed = store.enqueue(candidate("c", 0.9, text="you deserved it", parent_text="it happened to me at work"))
    corrected = store.enqueue(candidate("k", 0.8, text="I believe you"))
    store.enqueue(candidate("open", 0.7))
    escalated = store.enqueue(candidate("e", 0.6))
    store.decide(confirmed, "alice", "harassing")
    store.decide(corrected, "alice", "supportive")
    store.decide(escalated, "alice", "escalate")

    summary = export_reviewed(store, tmp_path / "out" / "reviewed.jsonl")
    records = {r.id: r for r in read_jsonl(summary.path)}

    assert set(records) == {f"review-{confirmed}", f"review-{corrected}"}
    assert records[f"review-{confirmed}"].parent_text == "it happened to me at work"
    assert records[f"review-{confirmed}"].label == "harassing"
    assert records[f"review-{corrected}"].label == "supportive"
    assert {r.source for r in records.values()} == {"review"}
    assert records[f"review-{corrected}"].tags == ("review:corrected",)
    assert summary.corrected == 1


def test_purge_blanks_old_decided_text_but_keeps_label_and_audit(store):
    old = store.enqueue(candidate("old", 0.9, text="secret words", parent_text="secret parent"))
    recent = store.enqueue(candidate("recent", 0.9))
    store.decide(old, "alice", "harassing")
    store.decide(recent, "alice", "harassing")

    purged = store.purge(older_than_days=30, now=utc_now() + timedelta(days=31))

    item = store.item(old)
    assert purged == 2
    assert item["purged"] and item["text"] is None and item["parent_text"] is None
    assert item["decided_label"] == "harassing"
    assert [e["event"] for e in store.audit(old)] == ["purge", "decide"]


def test_purge_leaves_recent_and_undecided_items_alone(store):
    decided = store.enqueue(candidate("d", 0.9))
    pending = store.enqueue(candidate("p", 0.9))
    store.decide(decided, "alice", "neutral")

    assert store.purge(older_than_days=30) == 0
    assert store.item(decided)["text"] == "a reply" and store.item(pending)["text"] == "a reply"


def test_purged_items_are_left_out_of_the_export(store, tmp_path):
    item_id = store.enqueue(candidate("d", 0.9))
    store.decide(item_id, "alice", "neutral")
    store.purge(older_than_days=1, now=utc_now() + timedelta(days=2))

    summary = export_reviewed(store, tmp_path / "reviewed.jsonl")

    assert summary.written == 0 and summary.purged_skipped == 1


def test_purged_decisions_cannot_be_undone(store):
    item_id = store.enqueue(candidate("d", 0.9))
    store.decide(item_id, "alice", "neutral")
    store.purge(older_than_days=1, now=utc_now() + timedelta(days=2))

    with pytest.raises(Exception, match="purged"):
        store.undo("alice", item_id)


def test_export_and_purge_commands_work_on_the_configured_database(store, db_path, tmp_path, monkeypatch):
    store.decide(store.enqueue(candidate("d", 0.9, text="kept text")), "alice", "harassing")
    monkeypatch.setenv("WITHYOU_REVIEW_DB", str(db_path))
    from review.config import get_review_settings

    get_review_settings.cache_clear()
    runner = CliRunner()
    out = tmp_path / "export.jsonl"

    exported = runner.invoke(app, ["review", "export", "--out", str(out)])
    purged = runner.invoke(app, ["review", "purge", "--older-than-days", "1"])
    status = runner.invoke(app, ["review", "status"])

    assert exported.exit_code == 0, exported.output
    assert "exported 1 reviewed items" in exported.output
    assert json.loads(out.read_text().splitlines()[0])["source"] == "review"
    assert purged.exit_code == 0 and "purged the text of 0 items" in purged.output
    assert "decided 1" in status.output
    get_review_settings.cache_clear()
