"""The review queue store (SQLAlchemy 2): enqueue, priority order, claim, decide, undo, purge — each change audited.

SQLite by default (WAL journal, synchronous=FULL so a committed decision survives a crash of the server, a busy
timeout so several workers can write), PostgreSQL by URL (`WITHYOU_REVIEW_DB=postgresql+psycopg://…`, with the
`psycopg` driver installed). Tables are created on first use (review/models.py).

Queue order: replies to a disclosure first (`parent_is_disclosure`, set at enqueue by classifying the parent post,
see review/sink.py), then P(harassing) high to low, then oldest first.

Item life: pending → (claim) → claimed → (decide) → decided | escalated; undo puts the reviewer's decision back
to pending. Deciding needs no prior claim. A claim older than `claim_minutes` no longer blocks other reviewers.
`review.sink:create_sink` is the `WITHYOU_REVIEW_SINK` factory that fills it.

Ids and offsets are 64-bit signed integers in both databases: an id outside 1 … MAX_ID names no item (NotFound,
never a driver overflow), an offset past MAX_OFFSET is refused. The labels a reviewer may choose are the store's
`labels` (the bundle's labels.json via review/config.py: label_set), plus "escalate".
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, case, create_engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from review.models import OPEN_STATUSES, AuditEntry, Base, ReviewItem, utc_now
from withyou.labels import LABELS

ESCALATE = "escalate"
SYSTEM_REVIEWER = "system:retention"
MAX_ID = 2**63 - 1  # BIGINT / SQLite INTEGER: a larger id cannot exist, and the drivers cannot even send it
MAX_OFFSET = MAX_ID


class ReviewError(Exception):
    """A request the store refuses; `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ReviewError):
    status = 404


class Conflict(ReviewError):
    status = 409


class StoreUnavailable(ReviewError):
    status = 503


def check_item_id(item_id: int) -> int:
    """An id the database can hold, else NotFound (ids start at 1; 2^63 and beyond overflow every driver)."""
    if not 1 <= item_id <= MAX_ID:
        shown = str(item_id) if abs(item_id) < 10**30 else f"{str(item_id)[:20]}… ({len(str(abs(item_id)))} digits)"
        raise NotFound(f"no review item {shown} (item ids are 1 to {MAX_ID})")
    return item_id


@cache
def engine_for(url: str, busy_timeout_s: float = 10.0) -> Engine:
    """One engine per URL and process (the sink and the reviewer app share it).

    SQLite waits up to `busy_timeout_s` for another writer's lock before "database is locked".
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

        def pragmas(connection: Any, _record: Any) -> None:
            cursor = connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
            cursor.close()

        event.listen(engine, "connect", pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


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
        "label": item.label,
        "action": item.action,
        "model_version": item.model_version,
        "classified_at": _iso(item.classified_at),
        "enqueued_at": _iso(item.enqueued_at),
        "status": item.status,
        "claimed_by": item.claimed_by,
        "claimed_at": _iso(item.claimed_at),
        "decided_label": item.decided_label,
        "decided_by": item.decided_by,
        "decided_at": _iso(item.decided_at),
        "note": item.note,
        "purged": item.purged,
    }


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "item_id": entry.item_id,
        "event": entry.event,
        "reviewer": entry.reviewer,
        "at": _iso(entry.at),
        "before": entry.before,
        "after": entry.after,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="milliseconds") if value else None


def add_explanation_column(engine: Any) -> None:
    """Queues created before explanations (issue 14) lack `review_items.explanation`: add it, empty (additive)."""
    from sqlalchemy import inspect, text

    if "explanation" not in {column["name"] for column in inspect(engine).get_columns("review_items")}:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE review_items ADD COLUMN explanation JSON"))


class ReviewStore:
    def __init__(
        self, url: str, claim_minutes: int = 15, busy_timeout_s: float = 10.0, labels: tuple[str, ...] = LABELS
    ) -> None:
        self.url = url
        self.labels = tuple(labels)
        self.decisions = (*self.labels, ESCALATE)
        self.claim_ttl = timedelta(minutes=claim_minutes)
        self.engine = engine_for(url, busy_timeout_s)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any = None, labels: tuple[str, ...] = LABELS) -> "ReviewStore":
        from review.config import get_review_settings

        settings = settings or get_review_settings()
        return cls(settings.database_url(), claim_minutes=settings.claim_minutes, labels=labels)

    def ensure_schema(self) -> None:
        """Create the folder (SQLite) and the tables once; retried on the next call if the database was down."""
        if self._schema_ready:
            return
        with self._schema_lock:
            if self._schema_ready:
                return
            if self.engine.dialect.name == "sqlite" and self.engine.url.database:
                folder = Path(self.engine.url.database).parent
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreUnavailable(f"cannot create the review database folder {folder}: {exc.strerror}") from None
            Base.metadata.create_all(self.engine)
            add_explanation_column(self.engine)
            self._schema_ready = True

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on any error."""
        self.ensure_schema()
        with self._sessions.begin() as session:
            yield session

    # -- writing ---------------------------------------------------------------------------------------------

    def enqueue(self, candidate: Any, parent_scores: dict[str, float] | None = None) -> int:
        """Store one serving.hooks.ReviewCandidate; a re-sent external id still open in the queue is not doubled."""
        with self.session() as session:
            if candidate.id is not None:
                existing = session.scalar(
                    select(ReviewItem.id).where(
                        ReviewItem.external_id == candidate.id, ReviewItem.status.in_(OPEN_STATUSES)
                    )
                )
                if existing is not None:
                    return existing
            item = ReviewItem(
                external_id=candidate.id,
                text=candidate.text,
                parent_text=candidate.parent_text,
                scores=dict(candidate.scores),
                harassing_score=float(candidate.scores.get("harassing", 0.0)),
                parent_scores=parent_scores,
                explanation=getattr(candidate, "explanation", None),
                parent_is_disclosure=bool(parent_scores) and max(parent_scores, key=parent_scores.get) == "disclosure",
                label=candidate.label,
                action=candidate.action,
                model_version=candidate.model_version,
                classified_at=datetime.fromisoformat(candidate.classified_at),
                enqueued_at=utc_now(),
                status="pending",
            )
            session.add(item)
            session.flush()
            return item.id

    def claim(self, item_id: int, reviewer: str) -> dict[str, Any]:
        def change(item: ReviewItem, now: datetime) -> str:
            if item.status not in OPEN_STATUSES:
                raise Conflict(f"item {item_id} is already {item.status}")
            self._check_claim(item, reviewer, now)
            item.status, item.claimed_by, item.claimed_at = "claimed", reviewer, now
            return "claim"

        return self._change(item_id, reviewer, change)

    def decide(self, item_id: int, reviewer: str, decision: str, note: str | None = None) -> dict[str, Any]:
        """Record `decision` (one of `labels`, or "escalate"); escalated items may later be decided by anyone."""
        if decision not in self.decisions:
            raise ReviewError(f"decision must be one of {', '.join(self.decisions)}; got {decision!r}")

        def change(item: ReviewItem, now: datetime) -> str:
            if item.status == "decided":
                raise Conflict(f"item {item_id} was already decided by {item.decided_by}; undo it first")
            if item.purged:
                raise Conflict(f"item {item_id} was purged")
            if item.status == "escalated" and decision == ESCALATE:
                raise Conflict(f"item {item_id} is already escalated")
            if item.status in OPEN_STATUSES:
                self._check_claim(item, reviewer, now)
            escalate = decision == ESCALATE
            item.status = "escalated" if escalate else "decided"
            item.decided_label = None if escalate else decision
            item.decided_by, item.decided_at, item.note = reviewer, now, (note or None)
            item.claimed_by, item.claimed_at = None, None
            return "escalate" if escalate else "decide"

        return self._change(item_id, reviewer, change)

    def undo(self, reviewer: str, item_id: int | None = None) -> dict[str, Any]:
        """Undo this reviewer's decision on `item_id`, or their latest decision still in force: back to pending."""
        if item_id is not None:
            check_item_id(item_id)
        else:
            with self.session() as session:
                item_id = session.scalar(
                    select(ReviewItem.id)
                    .where(ReviewItem.decided_by == reviewer, ReviewItem.status.in_(("decided", "escalated")))
                    .order_by(ReviewItem.decided_at.desc(), ReviewItem.id.desc())
                    .limit(1)
                )
            if item_id is None:
                raise Conflict(f"{reviewer} has no decision to undo")

        def change(item: ReviewItem, now: datetime) -> str:
            if item.status not in ("decided", "escalated"):
                raise Conflict(f"item {item_id} has no decision to undo (it is {item.status})")
            if item.decided_by != reviewer:
                raise Conflict(f"item {item_id} was decided by {item.decided_by}; only they can undo it")
            if item.purged:
                raise Conflict(f"item {item_id} was purged; its decision is final")
            item.status, item.decided_label, item.decided_by, item.decided_at, item.note = "pending", None, None, None, None
            return "undo"

        return self._change(item_id, reviewer, change)

    def purge(self, older_than_days: int, now: datetime | None = None) -> int:
        """Blank text and parent_text of items decided more than `older_than_days` ago; labels and audit stay."""
        if older_than_days < 1:
            raise ReviewError(f"older_than_days must be ≥ 1, got {older_than_days}")
        now = now or utc_now()
        cutoff = now - timedelta(days=older_than_days)
        with self.session() as session:
            items = session.scalars(
                select(ReviewItem).where(
                    ReviewItem.status == "decided", ReviewItem.purged.is_(False), ReviewItem.decided_at < cutoff
                )
            ).all()
            for item in items:
                before = item.state()
                item.text, item.parent_text, item.purged, item.purged_at = "", None, True, now
                session.add(AuditEntry(item_id=item.id, event="purge", reviewer=SYSTEM_REVIEWER, at=now,
                                       before=before, after=item.state()))  # fmt: skip
            return len(items)

    def _check_claim(self, item: ReviewItem, reviewer: str, now: datetime) -> None:
        if item.status == "claimed" and item.claimed_by != reviewer and item.claimed_at + self.claim_ttl > now:
            raise Conflict(f"item {item.id} is claimed by {item.claimed_by}")

    def _change(self, item_id: int, reviewer: str, change: Any) -> dict[str, Any]:
        """Apply `change(item, now)` → event name, and its audit row, in one transaction (compare-and-set)."""
        check_item_id(item_id)
        try:
            with self.session() as session:
                item = session.get(ReviewItem, item_id)
                if item is None:
                    raise NotFound(f"no review item {item_id}")
                now = utc_now()
                before = item.state()
                name = change(item, now)
                session.add(AuditEntry(item_id=item.id, event=name, reviewer=reviewer, at=now, before=before,
                                       after=item.state()))  # fmt: skip
                session.flush()
                return item_json(item)
        except StaleDataError:
            raise Conflict(f"item {item_id} changed while you were deciding; reload it") from None

    # -- reading ---------------------------------------------------------------------------------------------

    @staticmethod
    def _priority() -> tuple[Any, ...]:
        return (
            case((ReviewItem.parent_is_disclosure.is_(True), 0), else_=1),
            ReviewItem.harassing_score.desc(),
            ReviewItem.enqueued_at.asc(),
            ReviewItem.id.asc(),
        )

    def queue(
        self, statuses: tuple[str, ...] = OPEN_STATUSES, limit: int = 50, offset: int = 0, external_id: str | None = None
    ) -> list[dict]:
        """Items with one of `statuses` (and `external_id`, if given): open ones in priority order, others newest first."""
        if not 0 <= offset <= MAX_OFFSET:
            raise ReviewError(f"offset must be between 0 and {MAX_OFFSET}; got {offset}")
        order = self._priority() if set(statuses) <= set(OPEN_STATUSES) else (
            ReviewItem.decided_at.desc(), ReviewItem.id.desc())  # fmt: skip
        query = select(ReviewItem).where(ReviewItem.status.in_(statuses))
        if external_id is not None:
            query = query.where(ReviewItem.external_id == external_id)
        with self.session() as session:
            rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
            return [item_json(row) for row in rows]

    def open_ids(self) -> list[int]:
        """Ids of open items in priority order (for next/previous navigation)."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(ReviewItem.id).where(ReviewItem.status.in_(OPEN_STATUSES)).order_by(*self._priority())
                )
            )

    def next_for(self, reviewer: str) -> int | None:
        """The highest-priority open item this reviewer may decide (not claimed by someone else)."""
        stale = utc_now() - self.claim_ttl
        with self.session() as session:
            return session.scalar(
                select(ReviewItem.id)
                .where(
                    (ReviewItem.status == "pending")
                    | ((ReviewItem.status == "claimed") & ((ReviewItem.claimed_by == reviewer) | (ReviewItem.claimed_at < stale)))
                )
                .order_by(*self._priority())
                .limit(1)
            )

    def counts(self) -> dict[str, int]:
        with self.session() as session:
            found = dict(session.execute(select(ReviewItem.status, func.count()).group_by(ReviewItem.status)).all())
        return {status: int(found.get(status, 0)) for status in ("pending", "claimed", "decided", "escalated")}

    def item(self, item_id: int) -> dict[str, Any]:
        check_item_id(item_id)
        with self.session() as session:
            item = session.get(ReviewItem, item_id)
            if item is None:
                raise NotFound(f"no review item {item_id}")
            return item_json(item)

    def audit(self, item_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Audit rows, newest first (for one item when `item_id` is given)."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if item_id is not None:
            check_item_id(item_id)
            query = query.where(AuditEntry.item_id == item_id)
        with self.session() as session:
            return [audit_json(entry) for entry in session.scalars(query)]

    def decided_items(self) -> Iterator[ReviewItem]:
        """Every decided item (with a label), oldest decision first — the export's input."""
        with self.session() as session:
            yield from session.scalars(
                select(ReviewItem)
                .where(ReviewItem.status == "decided", ReviewItem.decided_label.is_not(None))
                .order_by(ReviewItem.id)
                .execution_options(yield_per=500)
            )
