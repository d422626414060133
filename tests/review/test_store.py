"""The review store on a real SQLite file and a real PostgreSQL server (each test runs on both): priority order,
the decision life cycle, and the append-only audit log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from review.models import utc_now
from review.store import Conflict, NotFound, ReviewError, ReviewStore
from tests.review.helpers import DISCLOSURE_PARENT, NEUTRAL_PARENT, candidate


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path) -> ReviewStore:
    if request.param == "postgresql":
        return ReviewStore(request.getfixturevalue("postgres_url"))
    return ReviewStore(f"sqlite:///{tmp_path / 'nested' / 'review.db'}")


def test_store_uses_wal_journal(tmp_path):
    store = ReviewStore(f"sqlite:///{tmp_path / 'nested' / 'review.db'}")
    store.counts()
    with store.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_replies_to_disclosures_come_first_then_harassing_score_then_age(store):
    store.enqueue(candidate("old-low", 0.30))
    store.enqueue(candidate("high", 0.95))
    store.enqueue(candidate("reply-to-neutral", 0.99, parent_text="p1"), NEUTRAL_PARENT)
    store.enqueue(candidate("disclosure-reply-low", 0.20, parent_text="p2"), DISCLOSURE_PARENT)
    store.enqueue(candidate("disclosure-reply-high", 0.60, parent_text="p3"), DISCLOSURE_PARENT)
    store.enqueue(candidate("new-low", 0.30))

    order = [item["external_id"] for item in store.queue()]

    assert order == ["disclosure-reply-high", "disclosure-reply-low", "reply-to-neutral", "high", "old-low", "new-low"]


def test_an_open_item_sent_again_is_not_queued_twice(store):
    first = store.enqueue(candidate("same", 0.7))
    again = store.enqueue(candidate("same", 0.7))

    assert again == first
    assert store.counts()["pending"] == 1


def test_decide_records_label_reviewer_note_and_an_audit_row(store):
    item_id = store.enqueue(candidate("x", 0.8))

    item = store.decide(item_id, "alice", "supportive", "quotes the abuse to condemn it")

    assert (item["status"], item["decided_label"], item["decided_by"]) == ("decided", "supportive", "alice")
    (entry,) = store.audit(item_id)
    assert entry["event"] == "decide" and entry["reviewer"] == "alice"
    assert entry["before"]["status"] == "pending" and entry["after"]["decided_label"] == "supportive"


def test_audit_rows_never_hold_post_text(store):
    item_id = store.enqueue(candidate("x", 0.8, text="unique-post-words", parent_text="unique-parent-words"))
    store.claim(item_id, "alice")
    store.decide(item_id, "alice", "harassing")

    assert "unique-" not in repr(store.audit(item_id))


def test_a_claim_by_another_reviewer_blocks_decisions(store):
    item_id = store.enqueue(candidate("x", 0.8))
    store.claim(item_id, "alice")

    with pytest.raises(Conflict, match="claimed by alice"):
        store.decide(item_id, "bob", "neutral")
    assert store.decide(item_id, "alice", "neutral")["status"] == "decided"


def test_an_expired_claim_no_longer_blocks(store):
    store.claim_ttl = timedelta(minutes=1)
    item_id = store.enqueue(candidate("x", 0.8))
    store.claim(item_id, "alice")
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE review_items SET claimed_at = :t"), {"t": utc_now() - timedelta(minutes=5)})

    assert store.decide(item_id, "bob", "neutral")["decided_by"] == "bob"


def test_undo_returns_the_latest_decision_of_that_reviewer_to_pending(store):
    first = store.enqueue(candidate("a", 0.8))
    second = store.enqueue(candidate("b", 0.7))
    store.decide(first, "alice", "harassing")
    store.decide(second, "alice", "neutral")

    undone = store.undo("alice")

    assert undone["id"] == second and undone["status"] == "pending" and undone["decided_label"] is None
    assert store.item(first)["status"] == "decided"
    assert [e["event"] for e in store.audit(second)] == ["undo", "decide"]


def test_only_the_deciding_reviewer_can_undo(store):
    item_id = store.enqueue(candidate("a", 0.8))
    store.decide(item_id, "alice", "harassing")

    with pytest.raises(Conflict, match="decided by alice"):
        store.undo("bob", item_id)


def test_escalated_items_leave_the_queue_and_can_be_decided_later(store):
    item_id = store.enqueue(candidate("a", 0.8))
    store.decide(item_id, "alice", "escalate", "needs a senior")

    assert store.queue() == []
    assert store.decide(item_id, "bob", "harassing")["status"] == "decided"
    assert [e["event"] for e in store.audit(item_id)] == ["decide", "escalate"]


def test_a_decided_item_cannot_be_decided_again(store):
    item_id = store.enqueue(candidate("a", 0.8))
    store.decide(item_id, "alice", "harassing")

    with pytest.raises(Conflict, match="already decided"):
        store.decide(item_id, "bob", "neutral")


def test_unknown_decision_and_unknown_item_are_refused(store):
    item_id = store.enqueue(candidate("a", 0.8))

    with pytest.raises(ReviewError, match="decision must be one of"):
        store.decide(item_id, "alice", "spam")
    with pytest.raises(NotFound):
        store.decide(item_id + 100, "alice", "neutral")


@pytest.mark.parametrize("item_id", [2**63, 2**63 - 1, 0, -(2**63) - 1])
def test_ids_no_64_bit_column_can_hold_are_not_found_not_a_driver_error(store, item_id):
    store.enqueue(candidate("a", 0.8))

    with pytest.raises(NotFound, match=f"no review item {item_id}"):
        store.item(item_id)
    with pytest.raises(NotFound):
        store.decide(item_id, "alice", "neutral")
    with pytest.raises(NotFound):
        store.undo("alice", item_id)
    with pytest.raises(ReviewError, match="offset must be between 0 and"):
        store.queue(offset=2**63)


@pytest.mark.parametrize("statement", ["UPDATE review_audit SET reviewer = 'mallory'", "DELETE FROM review_audit"])
def test_the_database_refuses_to_change_audit_rows(store, statement):
    store.decide(store.enqueue(candidate("a", 0.8)), "alice", "harassing")

    with pytest.raises(Exception, match="append-only"):
        with store.engine.begin() as connection:
            connection.execute(text(statement))
    assert len(store.audit()) == 1


def test_a_queue_created_before_explanations_gains_the_column_and_keeps_its_items(tmp_path):
    import sqlite3

    from review.store import ReviewStore

    db = tmp_path / "old.db"
    store = ReviewStore(f"sqlite:///{db}")
    store.ensure_schema()
    with sqlite3.connect(db) as connection:
        connection.execute("ALTER TABLE review_items DROP COLUMN explanation")

    reopened = ReviewStore(f"sqlite:///{db}")
    item_id = reopened.enqueue(candidate_with_explanation())

    assert reopened.item(item_id)["explanation"] == {"label": "harassing", "text": {"label": [], "harassing": []}}


def candidate_with_explanation():
    from serving.hooks import ReviewCandidate, now_utc

    return ReviewCandidate(
        id="old-db", text="a post", parent_text=None, label="harassing",
        scores={"disclosure": 0.1, "supportive": 0.1, "harassing": 0.7, "neutral": 0.1}, action="review",
        model_version="m", classified_at=now_utc(), explanation={"label": "harassing", "text": {"label": [], "harassing": []}},
    )  # fmt: skip


def test_an_explanation_is_kept_with_the_item(store):
    item_id = store.enqueue(candidate_with_explanation())

    assert store.item(item_id)["explanation"]["label"] == "harassing"
