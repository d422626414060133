"""The review queue store (SQLAlchemy 2): enqueue, priority order, claim, decide, undo, purge — each change audited.

SQLite by default (WAL journal, synchronous=FULL so a committed decision survives a crash of the server, a busy
timeout so several workers can write), PostgreSQL by URL (`WITHYOU_REVIEW_DB=postgresql+psycopg://…`, with the
`psycopg` driver installed): review/database.py. Tables are created on first use (review/models.py).

Queue order: threads under attack first (one `kind` "thread" item each, review/threads.py), then replies to a
disclosure (`parent_is_disclosure`, set at enqueue by classifying the parent post, see review/sink.py), then
P(harassing) high to low, then oldest first. Each open item has an age and a service level by its priority class
(review/sla.py); `status_report` counts the breaches and names the oldest open item per class.

Appeals (review/appeals.py): `open_appeal` adds an appeal of a decided, hidden post; `decide_appeal` records
"upheld" or "overturned" by a reviewer other than the original decider. Appeals have their own queue (`appeals`),
never mixed into `queue`, and `decide` refuses them; the appealed decision cannot be undone.

Threads: an item with a `thread_id` is also counted for pile-on detection in the same transaction as its enqueue
(`enqueue_counting`), and a reply that needs no review is counted alone (`count_reply`); review/threads.py has the
rule. Author ids arrive already hashed (the sink hashes them); the store never sees a raw one.

Item life: pending → (claim) → claimed → (decide) → decided | escalated; undo puts the reviewer's decision back
to pending. Deciding needs no prior claim. A claim older than `claim_minutes` no longer blocks other reviewers.
`review.sink:create_sink` is the `WITHYOU_REVIEW_SINK` factory that fills it.

Ids and offsets are 64-bit signed integers in both databases: an id outside 1 … MAX_ID names no item (NotFound,
never a driver overflow), an offset past MAX_OFFSET is refused. The labels a reviewer may choose are the store's
`labels` (the bundle's labels.json via review/config.py: label_set), plus "escalate".
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session, aliased, object_session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from review import appeals, sla, threads
from review.database import add_columns, engine_for
from review.errors import Conflict, Forbidden, NotFound, ReviewError, StoreUnavailable  # noqa: F401 (re-exported)
from review.models import (
    OPEN_STATUSES,
    AuditEntry,
    Base,
    ReviewItem,
    Thread,
    ThreadReplyRow,
    audit_json,
    item_json,
    iso,
    thread_json,
    utc_now,
)
from review.sla import ServiceLevels
from review.threads import PileOnRule, ThreadOutcome
from withyou.labels import HARASSING, LABELS

ESCALATE = "escalate"
THREAD_DECISIONS = ("resolved", ESCALATE)  # a thread item (kind "thread") is no post: it takes no label
SYSTEM_REVIEWER = "system:retention"
MAX_ID = 2**63 - 1  # BIGINT / SQLite INTEGER: a larger id cannot exist, and the drivers cannot even send it
MAX_OFFSET = MAX_ID


def check_item_id(item_id: int) -> int:
    """An id the database can hold, else NotFound (ids start at 1; 2^63 and beyond overflow every driver)."""
    if not 1 <= item_id <= MAX_ID:
        shown = str(item_id) if abs(item_id) < 10**30 else f"{str(item_id)[:20]}… ({len(str(abs(item_id)))} digits)"
        raise NotFound(f"no review item {shown} (item ids are 1 to {MAX_ID})")
    return item_id


class ReviewStore:
    def __init__(
        self,
        url: str,
        claim_minutes: int = 15,
        busy_timeout_s: float = 10.0,
        labels: tuple[str, ...] = LABELS,
        pile_on: PileOnRule | None = None,
        service_levels: ServiceLevels | None = None,
        appeal_labels: tuple[str, ...] = (HARASSING,),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """`clock` gives "now" for queueing times, decisions and service levels (tests pass a fake one)."""
        self.url = url
        self.pile_on = pile_on or PileOnRule.defaults()
        self.service_levels = service_levels or ServiceLevels.defaults()
        self.appeal_labels = tuple(appeal_labels)
        self.clock = clock
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
        return cls(
            settings.database_url(),
            claim_minutes=settings.claim_minutes,
            labels=labels,
            pile_on=PileOnRule.from_settings(settings),
            service_levels=ServiceLevels.from_settings(settings),
            appeal_labels=tuple(settings.appeal_labels),
        )

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
            add_columns(self.engine)
            self._schema_ready = True

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on any error."""
        self.ensure_schema()
        with self._sessions.begin() as session:
            yield session

    # -- writing ---------------------------------------------------------------------------------------------

    def enqueue(self, candidate: Any, parent_scores: dict[str, float] | None = None, author_hash: str | None = None) -> int:
        """Store one serving.hooks.ReviewCandidate; a re-sent external id still open in the queue is not doubled."""
        return self.enqueue_counting(candidate, parent_scores, author_hash)[0]

    def enqueue_counting(
        self, candidate: Any, parent_scores: dict[str, float] | None = None, author_hash: str | None = None
    ) -> tuple[int, ThreadOutcome | None]:
        """enqueue, and count the item under its thread (when it is a reply in one) in the same transaction.

        Returns (item id, what counting changed); a re-sent item is neither queued nor counted again (None)."""
        thread_id = getattr(candidate, "thread_id", None)
        classified_at = datetime.fromisoformat(candidate.classified_at)
        with self.session() as session:
            if candidate.id is not None:
                existing = session.scalar(
                    select(ReviewItem.id).where(
                        ReviewItem.external_id == candidate.id,
                        ReviewItem.status.in_(OPEN_STATUSES),
                        ReviewItem.kind == "post",
                    )
                )
                if existing is not None:
                    return existing, None
            outcome = None
            if thread_id is not None and candidate.id != thread_id:
                outcome = threads.record_reply(
                    session, self.pile_on, thread_id=thread_id, external_id=candidate.id, author=author_hash,
                    label=candidate.label, action=candidate.action, at=classified_at,
                    model_version=candidate.model_version,
                )  # fmt: skip
                repeat = outcome.repeat_author
            else:
                repeat = author_hash is not None and threads.is_repeat_author(
                    session, self.pile_on, author_hash, classified_at
                )
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
                classified_at=classified_at,
                enqueued_at=self.clock(),
                status="pending",
                kind="post",
                thread_id=thread_id,
                author_hash=author_hash,
                repeat_author=repeat,
            )
            session.add(item)
            session.flush()
            return item.id, outcome

    def count_reply(self, reply: Any, author_hash: str | None = None) -> ThreadOutcome | None:
        """Count a serving.hooks.ThreadReply (a reply that needs no review) under its thread; the root is not one."""
        if reply.thread_id is None or reply.id == reply.thread_id:
            return None
        with self.session() as session:
            return threads.record_reply(
                session, self.pile_on, thread_id=reply.thread_id, external_id=reply.id, author=author_hash,
                label=reply.label, action=reply.action, at=datetime.fromisoformat(reply.classified_at),
            )  # fmt: skip

    def threads_under_attack(self, now: datetime | None = None) -> set[str]:
        """Ids of the threads under attack now (review/threads.py: under_attack)."""
        with self.session() as session:
            return threads.under_attack(session, self.pile_on, now)

    def thread(self, thread_id: str) -> dict[str, Any]:
        """One thread's pile-on state."""
        with self.session() as session:
            row = session.get(Thread, thread_id)
            if row is None:
                raise NotFound(f"no thread {thread_id!r} has been counted")
            return thread_json(row)

    def thread_view(self, thread_id: str, limit: int | None = None) -> dict[str, Any]:
        """A thread as the reviewer's thread view shows it (review/threads.py: thread_view); NotFound if unknown."""
        with self.session() as session:
            view = threads.thread_view(session, thread_id, limit)
        if view is None:
            raise NotFound(f"no thread {thread_id[:80]!r} is known to the review store")
        return view

    def claim(self, item_id: int, reviewer: str) -> dict[str, Any]:
        def change(item: ReviewItem, now: datetime) -> str:
            if item.status not in OPEN_STATUSES:
                raise Conflict(f"item {item_id} is already {item.status}")
            if item.kind == "appeal":
                appeals.check_decider(appeals.original_of(object_session(item), item), item, reviewer)
            self._check_claim(item, reviewer, now)
            item.status, item.claimed_by, item.claimed_at = "claimed", reviewer, now
            return "claim"

        return self._change(item_id, reviewer, change)

    def decide(self, item_id: int, reviewer: str, decision: str, note: str | None = None) -> dict[str, Any]:
        """Record `decision` (one of `labels`, or "escalate"; for a thread item "resolved" or "escalate");
        escalated items may later be decided by anyone."""
        if decision not in self.decisions and decision not in THREAD_DECISIONS:
            raise ReviewError(f"decision must be one of {', '.join(self.decisions)}; got {decision!r}")

        def change(item: ReviewItem, now: datetime) -> str:
            if item.kind == "appeal":
                raise Conflict(f"item {item_id} is an appeal: decide it upheld or overturned (POST /review/api/appeals/"
                               f"{item_id}/decide, or the appeals page)")  # fmt: skip
            allowed = THREAD_DECISIONS if item.kind == "thread" else self.decisions
            if decision not in allowed:
                raise ReviewError(f"a {item.kind} item's decision must be one of {', '.join(allowed)}; got {decision!r}")
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
            appeal = object_session(item).scalar(select(ReviewItem.id).where(ReviewItem.appeal_of == item.id))
            if appeal is not None:
                raise Conflict(f"item {item_id} was appealed (appeal {appeal}); the appeal decides whether it stands")
            item.status, item.decided_label, item.decided_by, item.decided_at, item.note = "pending", None, None, None, None
            item.appeal_outcome = None
            return "undo"

        return self._change(item_id, reviewer, change)

    def purge(self, older_than_days: int, now: datetime | None = None) -> int:
        """Blank text and parent_text of items decided more than `older_than_days` ago; labels and audit stay."""
        if older_than_days < 1:
            raise ReviewError(f"older_than_days must be ≥ 1, got {older_than_days}")
        now = now or self.clock()
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

    def purge_threads(self, older_than_days: int, now: datetime | None = None) -> dict[str, int]:
        """Delete counted replies and threads whose last reply is more than `older_than_days` old, and blank the
        author hashes of items enqueued before then. Counts per kind of thing removed."""
        from sqlalchemy import delete, update

        if older_than_days < 1:
            raise ReviewError(f"older_than_days must be ≥ 1, got {older_than_days}")
        cutoff = (now or self.clock()) - timedelta(days=older_than_days)
        with self.session() as session:
            replies = session.execute(delete(ThreadReplyRow).where(ThreadReplyRow.at < cutoff)).rowcount
            thread_rows = session.execute(delete(Thread).where(Thread.last_reply_at < cutoff)).rowcount
            authors = session.execute(
                update(ReviewItem)
                .where(ReviewItem.author_hash.is_not(None), ReviewItem.enqueued_at < cutoff)
                .values(author_hash=None)
                .execution_options(synchronize_session=False)
            ).rowcount
        return {"thread_replies": replies, "threads": thread_rows, "author_hashes": authors}

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
                now = self.clock()
                before = item.state()
                name = change(item, now)
                session.add(AuditEntry(item_id=item.id, event=name, reviewer=reviewer, at=now, before=before,
                                       after=item.state()))  # fmt: skip
                session.flush()
                return self._json(item, now)
        except StaleDataError:
            raise Conflict(f"item {item_id} changed while you were deciding; reload it") from None

    # -- reading ---------------------------------------------------------------------------------------------

    @staticmethod
    def _priority() -> tuple[Any, ...]:
        return (
            case((ReviewItem.kind == "thread", 0), else_=1),
            case((ReviewItem.parent_is_disclosure.is_(True), 0), else_=1),
            ReviewItem.harassing_score.desc(),
            ReviewItem.enqueued_at.asc(),
            ReviewItem.id.asc(),
        )

    def _json(self, item: ReviewItem, now: datetime | None = None) -> dict[str, Any]:
        """item_json plus the item's priority class, age and service level (review/sla.py)."""
        return {**item_json(item), **sla.item_fields(item, self.service_levels, now or self.clock())}

    def queue(
        self, statuses: tuple[str, ...] = OPEN_STATUSES, limit: int = 50, offset: int = 0, external_id: str | None = None
    ) -> list[dict]:
        """Items with one of `statuses` (and `external_id`, if given): open ones in priority order, others newest
        first. Appeals are not in it (`appeals`)."""
        if not 0 <= offset <= MAX_OFFSET:
            raise ReviewError(f"offset must be between 0 and {MAX_OFFSET}; got {offset}")
        order = self._priority() if set(statuses) <= set(OPEN_STATUSES) else (
            ReviewItem.decided_at.desc(), ReviewItem.id.desc())  # fmt: skip
        query = select(ReviewItem).where(ReviewItem.status.in_(statuses), ReviewItem.kind != "appeal")
        if external_id is not None:
            query = query.where(ReviewItem.external_id == external_id)
        now = self.clock()
        with self.session() as session:
            rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
            return [self._json(row, now) for row in rows]

    def open_ids(self) -> list[int]:
        """Ids of open items in priority order (for next/previous navigation)."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(ReviewItem.id)
                    .where(ReviewItem.status.in_(OPEN_STATUSES), ReviewItem.kind != "appeal")
                    .order_by(*self._priority())
                )
            )

    def _decidable_by(self, reviewer: str) -> Any:
        """Open and not held by another reviewer's fresh claim."""
        stale = self.clock() - self.claim_ttl
        return (ReviewItem.status == "pending") | (
            (ReviewItem.status == "claimed") & ((ReviewItem.claimed_by == reviewer) | (ReviewItem.claimed_at < stale))
        )

    def next_for(self, reviewer: str) -> int | None:
        """The highest-priority open item this reviewer may decide (not claimed by someone else)."""
        with self.session() as session:
            return session.scalar(
                select(ReviewItem.id)
                .where(self._decidable_by(reviewer), ReviewItem.kind != "appeal")
                .order_by(*self._priority())
                .limit(1)
            )

    def counts(self) -> dict[str, int]:
        """Queue items (appeals not included) by status."""
        with self.session() as session:
            found = dict(
                session.execute(
                    select(ReviewItem.status, func.count()).where(ReviewItem.kind != "appeal").group_by(ReviewItem.status)
                ).all()
            )
        return {status: int(found.get(status, 0)) for status in ("pending", "claimed", "decided", "escalated")}

    def item(self, item_id: int) -> dict[str, Any]:
        check_item_id(item_id)
        with self.session() as session:
            item = session.get(ReviewItem, item_id)
            if item is None:
                raise NotFound(f"no review item {item_id}")
            return self._json(item)

    def status_report(self, now: datetime | None = None) -> dict[str, Any]:
        """Counts, service levels per priority class (breaches, oldest open item) and appeal rates per label."""
        now = now or self.clock()
        counts = self.counts()
        with self.session() as session:
            return {
                "at": iso(now),
                "counts": counts,
                "service_levels": sla.report(session, self.service_levels, now),
                "appeals": appeals.rates(session, self.appeal_labels),
            }

    # -- appeals (review/appeals.py) -------------------------------------------------------------------------

    def open_appeal(self, external_id: str, statement: str) -> dict[str, Any]:
        """Open the appeal of the decided, hidden post `external_id` (/classify's id) with the author's statement."""
        appeals.check_statement(statement)
        now = self.clock()
        with self.session() as session:
            appeal = appeals.open_appeal(session, external_id, statement, self.appeal_labels, now)
            return self._appeal_json(session, appeal, now)

    def decide_appeal(
        self, appeal_id: int, reviewer: str, outcome: str, label: str | None = None, note: str | None = None
    ) -> dict[str, Any]:
        """Uphold or overturn (with the corrected `label`) an appeal; never by the reviewer whose decision it is."""
        def change(item: ReviewItem, now: datetime) -> str:
            if item.kind != "appeal":
                raise NotFound(f"no appeal {appeal_id} (item {appeal_id} is a {item.kind})")
            if item.status == "decided":
                raise Conflict(f"appeal {appeal_id} was already decided ({item.appeal_outcome}) by {item.decided_by}")
            if item.purged:
                raise Conflict(f"appeal {appeal_id} was purged")
            appeals.check_decider(appeals.original_of(object_session(item), item), item, reviewer)
            self._check_claim(item, reviewer, now)
            item.decided_label = appeals.final_label(item.label, outcome, label, self.labels)
            item.status, item.appeal_outcome = "decided", outcome
            item.decided_by, item.decided_at, item.note = reviewer, now, (note or None)
            item.claimed_by, item.claimed_at = None, None
            return "decide"

        self._change(appeal_id, reviewer, change)
        return self.appeal(appeal_id)

    def appeal(self, appeal_id: int) -> dict[str, Any]:
        check_item_id(appeal_id)
        with self.session() as session:
            item = session.get(ReviewItem, appeal_id)
            if item is None or item.kind != "appeal":
                raise NotFound(f"no appeal {appeal_id}")
            return self._appeal_json(session, item, self.clock())

    def appeals(self, statuses: tuple[str, ...] = OPEN_STATUSES, limit: int = 50, offset: int = 0) -> list[dict]:
        """Appeals with one of `statuses`: open ones oldest first, others newest decision first."""
        if not 0 <= offset <= MAX_OFFSET:
            raise ReviewError(f"offset must be between 0 and {MAX_OFFSET}; got {offset}")
        is_open = set(statuses) <= set(OPEN_STATUSES)
        order = (ReviewItem.enqueued_at, ReviewItem.id) if is_open else (ReviewItem.decided_at.desc(), ReviewItem.id.desc())
        query = select(ReviewItem).where(ReviewItem.kind == "appeal", ReviewItem.status.in_(statuses))
        now = self.clock()
        with self.session() as session:
            rows = session.scalars(query.order_by(*order).limit(limit).offset(offset)).all()
            return [self._appeal_json(session, row, now) for row in rows]

    def next_appeal_for(self, reviewer: str) -> int | None:
        """The oldest open appeal this reviewer may decide: not of their own decision, not claimed by another."""
        original = aliased(ReviewItem)
        with self.session() as session:
            return session.scalar(
                select(ReviewItem.id)
                .join(original, original.id == ReviewItem.appeal_of)
                .where(ReviewItem.kind == "appeal", self._decidable_by(reviewer), original.decided_by != reviewer)
                .order_by(ReviewItem.enqueued_at, ReviewItem.id)
                .limit(1)
            )

    def appeal_rates(self) -> dict[str, Any]:
        """Open and decided appeals, and per appealable label the appeal and overturn rates (review/appeals.py)."""
        with self.session() as session:
            return appeals.rates(session, self.appeal_labels)

    def overturned_appeals(self) -> dict[int, tuple[int, str]]:
        """{post id: (appeal id, the corrected label)} of every overturned appeal (the export's corrections)."""
        with self.session() as session:
            return appeals.overturned(session)

    def _appeal_json(self, session: Session, appeal: ReviewItem, now: datetime) -> dict[str, Any]:
        fields = sla.item_fields(appeal, self.service_levels, now)
        return appeals.appeal_json(appeal, appeals.original_of(session, appeal), fields)

    def audit(self, item_id: int | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Audit rows, newest first (for one item when `item_id` is given)."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if item_id is not None:
            check_item_id(item_id)
            query = query.where(AuditEntry.item_id == item_id)
        with self.session() as session:
            return [audit_json(entry) for entry in session.scalars(query)]

    def decided_items(self) -> Iterator[ReviewItem]:
        """Every decided post (with a label; thread items are no training record), oldest decision first — the
        export's input."""
        with self.session() as session:
            yield from session.scalars(
                select(ReviewItem)
                .where(
                    ReviewItem.status == "decided", ReviewItem.decided_label.is_not(None), ReviewItem.kind == "post"
                )
                .order_by(ReviewItem.id)
                .execution_options(yield_per=500)
            )
