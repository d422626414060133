"""The review store's two tables: the queue (`review_items`) and the append-only audit log (`review_audit`).

`review_items` holds one row per post that /classify sent to review, with everything a reviewer needs (the post,
the post it replies to, the model's scores and action) and the decision state. `version` makes every state change
an optimistic compare-and-set (SQLAlchemy `version_id_col`), so two reviewers cannot both decide one item.

Threads (issue 21; review/threads.py): `review_thread_replies` holds one text-free row per reply counted under a
thread (its root post's id, the author's keyed hash, whether it counted as harassing/hidden/review, when it was
classified) and `review_threads` one row per thread with its pile-on state. A thread found under attack becomes one
`review_items` row of `kind` "thread" (empty text: the thread view reads its replies by `thread_id`). Post items
carry their `thread_id`, their author's hash and the `repeat_author` flag. Author ids are stored only as HMAC-SHA256
hex digests; `withyou review purge` deletes counted replies, threads and author hashes past their retention.

Appeals (issue 21; review/appeals.py): the author of a hidden post may appeal the reviewer's decision. The appeal
is a `review_items` row of `kind` "appeal": `appeal_of` is the decided post's id (one appeal per post: a unique
index), `text` the author's statement (user text, blanked by retention like a post), `label` the decision under
appeal, and once a reviewer other than the original decider decides it, `decided_label` the label that stands and
`appeal_outcome` "upheld" (the same label) or "overturned" (another one). The post's own row keeps its decision.

`review_audit` gets one row per claim / decide / escalate / undo / purge: who, when, the item's state before and
after. No code path updates or deletes an audit row, and the database refuses to as well (triggers created with
the table on SQLite and PostgreSQL). Audit states never hold post text, so retention can blank the text and keep
the audit trail.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    DDL,
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    event,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

STATUSES = ("pending", "claimed", "decided", "escalated")
KINDS = ("post", "thread", "appeal")
APPEAL_OUTCOMES = ("upheld", "overturned")
THREAD_STATUSES = ("normal", "under_attack")
OPEN_STATUSES = ("pending", "claimed")
EVENTS = ("claim", "decide", "escalate", "undo", "purge")
AUDITED_FIELDS = ("status", "claimed_by", "decided_label", "decided_by", "note", "purged", "appeal_outcome")
# Ids are 64-bit on both backends (BIGSERIAL on PostgreSQL; SQLite's INTEGER PRIMARY KEY is 64-bit already and
# must stay spelled INTEGER to be the rowid): review/store.py MAX_ID is the largest.
ID_TYPE = BigInteger().with_variant(Integer, "sqlite")
LABEL_CHARS = 64  # a label name's longest form (review/config.py: LABEL_NAME); the label set is the bundle's
EXTERNAL_ID_CHARS = 256  # the longest id /classify accepts (serving/schemas.py), post and thread ids alike
AUTHOR_HASH_CHARS = 64  # hex HMAC-SHA256


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive; we read them back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("review store datetimes must be timezone-aware")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    pass


class ReviewItem(Base):
    __tablename__ = "review_items"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_CHARS), index=True)
    text: Mapped[str] = mapped_column(Text)
    parent_text: Mapped[str | None] = mapped_column(Text)
    scores: Mapped[dict[str, float]] = mapped_column(JSON)
    harassing_score: Mapped[float] = mapped_column(Float)
    parent_scores: Mapped[dict[str, float] | None] = mapped_column(JSON)
    explanation: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # withyou.explain spans, offsets only
    parent_is_disclosure: Mapped[bool] = mapped_column(Boolean, default=False)
    label: Mapped[str] = mapped_column(String(LABEL_CHARS))
    action: Mapped[str] = mapped_column(String(16))
    model_version: Mapped[str] = mapped_column(String(128))
    classified_at: Mapped[datetime] = mapped_column(UTCDateTime)
    enqueued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_label: Mapped[str | None] = mapped_column(String(LABEL_CHARS))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    note: Mapped[str | None] = mapped_column(Text)
    purged: Mapped[bool] = mapped_column(Boolean, default=False)
    purged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    kind: Mapped[str] = mapped_column(String(16), default="post", server_default="post")
    thread_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_CHARS), index=True)
    author_hash: Mapped[str | None] = mapped_column(String(AUTHOR_HASH_CHARS), index=True)
    repeat_author: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    appeal_of: Mapped[int | None] = mapped_column(ID_TYPE, ForeignKey("review_items.id"))  # kind "appeal" only
    appeal_outcome: Mapped[str | None] = mapped_column(String(16))  # APPEAL_OUTCOMES, once the appeal is decided

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="review_items_status"),
        Index("ix_review_items_queue", "status", "parent_is_disclosure", "harassing_score", "enqueued_at"),
        Index("ix_review_items_decided", "decided_by", "decided_at"),
        Index("ix_review_items_appeal_of", "appeal_of", unique=True),
    )

    def state(self) -> dict[str, Any]:
        """The decision state recorded in audit rows (never the post text)."""
        return {name: getattr(self, name) for name in AUDITED_FIELDS}


THREAD_COLUMNS = {  # added to review_items tables created before issue 21 (review/store.py: add_columns)
    "kind": "VARCHAR(16) NOT NULL DEFAULT 'post'",
    "thread_id": f"VARCHAR({EXTERNAL_ID_CHARS})",
    "author_hash": f"VARCHAR({AUTHOR_HASH_CHARS})",
    "repeat_author": "BOOLEAN NOT NULL DEFAULT FALSE",
}
APPEAL_COLUMNS = {"appeal_of": "BIGINT", "appeal_outcome": "VARCHAR(16)"}  # issue 21 item 6, added likewise


class ThreadReplyRow(Base):
    """One reply counted under a thread: no text, the author only as a keyed hash."""

    __tablename__ = "review_thread_replies"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    thread_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_CHARS))
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_CHARS))
    author_hash: Mapped[str | None] = mapped_column(String(AUTHOR_HASH_CHARS))
    counted: Mapped[bool] = mapped_column(Boolean)  # labelled harassing, hidden, or sent to review
    hidden: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when /classify answered it

    __table_args__ = (
        Index("ix_review_thread_replies_thread", "thread_id", "at"),
        Index("ix_review_thread_replies_author", "author_hash", "at"),
    )


class Thread(Base):
    """A thread's pile-on state; `item_id` is its one escalated queue item, set once by the worker that tipped it."""

    __tablename__ = "review_threads"

    thread_id: Mapped[str] = mapped_column(String(EXTERNAL_ID_CHARS), primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="normal")
    last_reply_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_counted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    under_attack_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rule: Mapped[str | None] = mapped_column(String(16))  # "count" or "share": the rule that tipped it
    item_id: Mapped[int | None] = mapped_column(ID_TYPE, ForeignKey("review_items.id"))

    __table_args__ = (
        CheckConstraint(f"status IN {THREAD_STATUSES}", name="review_threads_status"),
        Index("ix_review_threads_attack", "status", "last_counted_at"),
        Index("ix_review_threads_last_reply", "last_reply_at"),
    )


class AuditEntry(Base):
    __tablename__ = "review_audit"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    item_id: Mapped[int] = mapped_column(ID_TYPE, ForeignKey("review_items.id"), index=True)
    event: Mapped[str] = mapped_column(String(16))
    reviewer: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)
    before: Mapped[dict[str, Any]] = mapped_column(JSON)
    after: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (CheckConstraint(f"event IN {EVENTS}", name="review_audit_event"),)


_APPEND_ONLY_SQLITE = [
    DDL(
        f"CREATE TRIGGER IF NOT EXISTS review_audit_no_{verb.lower()} BEFORE {verb} ON review_audit "
        "BEGIN SELECT RAISE(ABORT, 'review_audit is append-only'); END"
    ).execute_if(dialect="sqlite")
    for verb in ("UPDATE", "DELETE")
]
_APPEND_ONLY_POSTGRESQL = [
    DDL(
        "CREATE OR REPLACE FUNCTION review_audit_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'review_audit is append-only'; END; $$ LANGUAGE plpgsql"
    ).execute_if(dialect="postgresql"),
    DDL(
        "CREATE TRIGGER review_audit_append_only BEFORE UPDATE OR DELETE ON review_audit "
        "FOR EACH ROW EXECUTE FUNCTION review_audit_append_only()"
    ).execute_if(dialect="postgresql"),
]
for _ddl in _APPEND_ONLY_SQLITE + _APPEND_ONLY_POSTGRESQL:
    event.listen(AuditEntry.__table__, "after_create", _ddl)


# -- what the API and the UI show of each row ---------------------------------------------------------------


def item_json(item: ReviewItem) -> dict[str, Any]:
    """What the API and the UI show of an item (text is null once purged)."""
    return {
        "id": item.id,
        "external_id": item.external_id,
        "text": None if item.purged else item.text,
        "parent_text": None if item.purged else item.parent_text,
        "scores": item.scores,
        "harassing_score": item.harassing_score,
        "parent_scores": item.parent_scores,
        "explanation": None if item.purged else item.explanation,
        "parent_is_disclosure": bool(item.parent_is_disclosure),
        "kind": item.kind,
        "thread_id": item.thread_id,
        "repeat_author": bool(item.repeat_author),
        "appeal_of": item.appeal_of,
        "appeal_outcome": item.appeal_outcome,
        "label": item.label,
        "action": item.action,
        "model_version": item.model_version,
        "classified_at": iso(item.classified_at),
        "enqueued_at": iso(item.enqueued_at),
        "status": item.status,
        "claimed_by": item.claimed_by,
        "claimed_at": iso(item.claimed_at),
        "decided_label": item.decided_label,
        "decided_by": item.decided_by,
        "decided_at": iso(item.decided_at),
        "note": item.note,
        "purged": item.purged,
    }


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "item_id": entry.item_id,
        "event": entry.event,
        "reviewer": entry.reviewer,
        "at": iso(entry.at),
        "before": entry.before,
        "after": entry.after,
    }


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") if value else None


def thread_json(thread: Thread) -> dict[str, Any]:
    return {
        "thread_id": thread.thread_id,
        "status": thread.status,
        "under_attack_since": iso(thread.under_attack_since),
        "rule": thread.rule,
        "item_id": thread.item_id,
        "last_reply_at": iso(thread.last_reply_at),
        "last_counted_at": iso(thread.last_counted_at),
    }
