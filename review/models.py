"""The review store's two tables: the queue (`review_items`) and the append-only audit log (`review_audit`).

`review_items` holds one row per post that /classify sent to review, with everything a reviewer needs (the post,
the post it replies to, the model's scores and action) and the decision state. `version` makes every state change
an optimistic compare-and-set (SQLAlchemy `version_id_col`), so two reviewers cannot both decide one item.

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
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

STATUSES = ("pending", "claimed", "decided", "escalated")
OPEN_STATUSES = ("pending", "claimed")
EVENTS = ("claim", "decide", "escalate", "undo", "purge")
AUDITED_FIELDS = ("status", "claimed_by", "decided_label", "decided_by", "note", "purged")
# Ids are 64-bit on both backends (BIGSERIAL on PostgreSQL; SQLite's INTEGER PRIMARY KEY is 64-bit already and
# must stay spelled INTEGER to be the rowid): review/store.py MAX_ID is the largest.
ID_TYPE = BigInteger().with_variant(Integer, "sqlite")
LABEL_CHARS = 64  # a label name's longest form (review/config.py: LABEL_NAME); the label set is the bundle's


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
    external_id: Mapped[str | None] = mapped_column(String(256), index=True)
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

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint(f"status IN {STATUSES}", name="review_items_status"),
        Index("ix_review_items_queue", "status", "parent_is_disclosure", "harassing_score", "enqueued_at"),
        Index("ix_review_items_decided", "decided_by", "decided_at"),
    )

    def state(self) -> dict[str, Any]:
        """The decision state recorded in audit rows (never the post text)."""
        return {name: getattr(self, name) for name in AUDITED_FIELDS}


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
