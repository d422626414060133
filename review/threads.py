"""Pile-on detection in the review store: a sliding-window counter per thread, and the repeat-author signal.

A thread is a root post (the disclosure, id `thread_id`) and the replies under it. Every reply the classifier
service answers with a `thread_id` reaches the store on the serving hook's background thread (review/sink.py) and
becomes one `review_thread_replies` row: no text, the author only as HMAC-SHA256(author key, author id). A reply
*counts* when it was labelled harassing, hidden, or sent to review.

Under attack: a thread passes `PileOnRule` when, at a counted reply,
- `count` or more counted replies arrived within the last `window` (default ≥ 5 in 60 minutes), or
- its last `last` replies number `last` and at least `share` of them counted (default ≥ 30 % of the last 20).
Time is the replies' `classified_at` (when /classify answered them), so the windows survive a restart and agree
across workers. The first worker to see the rule pass flips the thread row from "normal" to "under_attack" with a
compare-and-set, and only that worker adds the thread's one queue item (`kind` "thread") and reports it, so a
thread escalates once however many workers and hosts share the store. It stays under attack for the classifier's
answers (`thread_status`) while its latest counted reply is younger than `hold`.

Repeat author: an author hash with `repeat_hidden` or more hidden replies in `repeat_window`, across all threads,
is flagged on its open queue items (`repeat_author`), and on those it gets later.

Everything here expires: `withyou review purge` deletes counted replies and threads older than the retention and
blanks the author hashes of older queue items (ReviewStore.purge_threads).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from review.models import OPEN_STATUSES, ReviewItem, Thread, ThreadReplyRow, utc_now

UNDER_ATTACK = "under_attack"
COUNTED_LABEL = "harassing"
COUNTED_ACTIONS = ("review", "hide")


@dataclass(frozen=True)
class PileOnRule:
    """The thresholds and windows (review/config.py holds their settings and defaults)."""

    count: int
    window: timedelta
    share: float
    last: int
    hold: timedelta
    repeat_hidden: int
    repeat_window: timedelta

    @classmethod
    def defaults(cls) -> "PileOnRule":
        """The rule with review/config.py's defaults (environment not read)."""
        from review.config import ReviewSettings

        return cls.from_settings(ReviewSettings.model_construct())

    @classmethod
    def from_settings(cls, settings: Any) -> "PileOnRule":
        return cls(
            count=settings.pile_on_count,
            window=timedelta(minutes=settings.pile_on_window_minutes),
            share=settings.pile_on_share,
            last=settings.pile_on_last,
            hold=timedelta(hours=settings.attack_hold_hours),
            repeat_hidden=settings.repeat_author_hidden,
            repeat_window=timedelta(hours=settings.repeat_author_window_hours),
        )


@dataclass(frozen=True)
class ThreadOutcome:
    """What one counted reply changed: `under_attack` is true only for the reply that tipped its thread."""

    thread_id: str | None = None
    under_attack: bool = False
    rule: str | None = None  # "count" or "share"
    counted_in_window: int = 0
    share_of_last: float | None = None
    thread_item_id: int | None = None
    repeat_author: bool = False  # this reply's author is a repeat author now
    new_repeat_author: bool = False  # ... and this reply made them one


def author_hash(author_id: str, key: bytes) -> str:
    """HMAC-SHA256(key, author id), hex: the only form of an author id the store keeps."""
    return hmac.new(key, author_id.encode("utf-8"), hashlib.sha256).hexdigest()


def counts(label: str, action: str) -> bool:
    """Whether a reply counts towards a pile-on: labelled harassing, hidden, or sent to review."""
    return label == COUNTED_LABEL or action in COUNTED_ACTIONS


def record_reply(
    session: Session,
    rule: PileOnRule,
    *,
    thread_id: str,
    external_id: str | None,
    author: str | None,
    label: str,
    action: str,
    at: datetime,
    model_version: str = "",
) -> ThreadOutcome:
    """Count one reply under `thread_id` inside the caller's transaction, and apply the rule and the author signal."""
    counted, hidden = counts(label, action), action == "hide"
    session.add(ThreadReplyRow(thread_id=thread_id, external_id=external_id, author_hash=author, counted=counted,
                               hidden=hidden, at=at))  # fmt: skip
    touch_thread(session, thread_id, at, counted)
    outcome = ThreadOutcome(thread_id=thread_id)
    if counted:
        outcome = apply_rule(session, rule, thread_id, at, model_version)
    if author is not None:
        hidden_count = hidden_by_author(session, rule, author, at)
        if hidden_count >= rule.repeat_hidden:
            flag_repeat_author(session, author)
        outcome = replace(outcome, repeat_author=hidden_count >= rule.repeat_hidden,
                          new_repeat_author=hidden and hidden_count == rule.repeat_hidden)  # fmt: skip
    return outcome


def touch_thread(session: Session, thread_id: str, at: datetime, counted: bool) -> None:
    """Create the thread row if it is new (a concurrent creator wins quietly), and move its last-reply times on."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(
        insert(Thread)
        .values(thread_id=thread_id, status="normal", last_reply_at=at, last_counted_at=at if counted else None)
        .on_conflict_do_nothing(index_elements=["thread_id"])
    )
    session.execute(
        update(Thread).where(Thread.thread_id == thread_id, Thread.last_reply_at < at).values(last_reply_at=at)
    )
    if counted:
        session.execute(
            update(Thread)
            .where(Thread.thread_id == thread_id, (Thread.last_counted_at.is_(None)) | (Thread.last_counted_at < at))
            .values(last_counted_at=at)
        )


def apply_rule(session: Session, rule: PileOnRule, thread_id: str, at: datetime, model_version: str) -> ThreadOutcome:
    """At a counted reply: does the thread pass the rule? The first to flip it adds its one queue item."""
    in_window = session.scalar(
        select(func.count()).where(
            ThreadReplyRow.thread_id == thread_id, ThreadReplyRow.counted.is_(True), ThreadReplyRow.at > at - rule.window
        )
    )
    recent = session.scalars(
        select(ThreadReplyRow.counted)
        .where(ThreadReplyRow.thread_id == thread_id)
        .order_by(ThreadReplyRow.at.desc(), ThreadReplyRow.id.desc())
        .limit(rule.last)
    ).all()
    share = sum(recent) / len(recent) if len(recent) == rule.last else None
    passed = "count" if in_window >= rule.count else "share" if share is not None and share >= rule.share else None
    outcome = ThreadOutcome(thread_id=thread_id, counted_in_window=in_window, share_of_last=share)
    if passed is None:
        return outcome
    flipped = session.execute(
        update(Thread)
        .where(Thread.thread_id == thread_id, Thread.status == "normal")
        .values(status=UNDER_ATTACK, under_attack_since=at, rule=passed)
    ).rowcount
    if flipped != 1:  # already under attack (escalated by this or another worker)
        return outcome
    item = ReviewItem(
        kind="thread",
        thread_id=thread_id,
        text="",
        scores={},
        harassing_score=1.0,
        label=UNDER_ATTACK,
        action="review",
        model_version=model_version,
        classified_at=at,
        enqueued_at=utc_now(),
        status="pending",
    )
    session.add(item)
    session.flush()
    session.execute(update(Thread).where(Thread.thread_id == thread_id).values(item_id=item.id))
    return ThreadOutcome(thread_id=thread_id, under_attack=True, rule=passed, counted_in_window=in_window,
                         share_of_last=share, thread_item_id=item.id)  # fmt: skip


def hidden_by_author(session: Session, rule: PileOnRule, author: str, at: datetime) -> int:
    return session.scalar(
        select(func.count()).where(
            ThreadReplyRow.author_hash == author,
            ThreadReplyRow.hidden.is_(True),
            ThreadReplyRow.at > at - rule.repeat_window,
        )
    )


def is_repeat_author(session: Session, rule: PileOnRule, author: str, at: datetime) -> bool:
    return hidden_by_author(session, rule, author, at) >= rule.repeat_hidden


def flag_repeat_author(session: Session, author: str) -> None:
    """Flag the author's open queue items (a plain column update: it changes no decision, so no version bump)."""
    session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.author_hash == author,
            ReviewItem.status.in_(OPEN_STATUSES),
            ReviewItem.repeat_author.is_(False),
        )
        .values(repeat_author=True)
        .execution_options(synchronize_session=False)
    )


def under_attack(session: Session, rule: PileOnRule, now: datetime | None = None) -> set[str]:
    """Ids of the threads under attack now: flipped, with a counted reply younger than `hold`."""
    now = now or utc_now()
    return set(
        session.scalars(
            select(Thread.thread_id).where(Thread.status == UNDER_ATTACK, Thread.last_counted_at > now - rule.hold)
        )
    )


def thread_view(session: Session, thread_id: str, limit: int | None = None) -> dict[str, Any] | None:
    """What the reviewer's thread view shows of a thread, or None when the store knows nothing of it.

    `replies`: the thread's queued replies (the only ones with text), riskiest first (P(harassing) high to low,
    then oldest), at most `limit`; `queued` counts them all. `root`: the disclosure's queue item when the root was
    queued itself; else `root_text` is the post most of the queued replies answer (their shared `parent_text`),
    since the store keeps no text of a post it did not queue. `replies_total` (every reply counted under the
    thread), `replies_counted` (those labelled harassing, hidden or sent to review) and `authors` (distinct author
    hashes) come from the text-free review_thread_replies rows.
    """
    from review.models import item_json, thread_json

    row = session.get(Thread, thread_id)
    is_reply = (ReviewItem.thread_id == thread_id) & (ReviewItem.kind == "post")
    is_reply &= ReviewItem.external_id.is_(None) | (ReviewItem.external_id != thread_id)
    replies = session.scalars(
        select(ReviewItem).where(is_reply).order_by(ReviewItem.harassing_score.desc(), ReviewItem.id).limit(limit)
    ).all()
    queued = session.scalar(select(func.count()).where(is_reply))
    item = session.scalars(
        select(ReviewItem).where(ReviewItem.thread_id == thread_id, ReviewItem.kind == "thread").order_by(ReviewItem.id)
    ).first()
    root = session.scalars(
        select(ReviewItem)
        .where(ReviewItem.external_id == thread_id, ReviewItem.kind == "post")
        .order_by(ReviewItem.id.desc())
    ).first()
    if row is None and item is None and root is None and not queued:
        return None
    root_text, root_scores = (root.text, root.scores) if root is not None and not root.purged else (None, None)
    if root is None:
        shared = session.execute(
            select(ReviewItem.parent_text, func.min(ReviewItem.id))
            .where(is_reply, ReviewItem.parent_text.is_not(None), ReviewItem.purged.is_(False))
            .group_by(ReviewItem.parent_text)
            .order_by(func.count().desc(), func.min(ReviewItem.id))
            .limit(1)
        ).first()
        if shared is not None:
            root_text, root_scores = shared[0], session.get(ReviewItem, shared[1]).parent_scores
    counted = session.execute(
        select(func.count(), func.count().filter(ThreadReplyRow.counted.is_(True)),
               func.count(ThreadReplyRow.author_hash.distinct())).where(ThreadReplyRow.thread_id == thread_id)
    ).one()  # fmt: skip
    return {
        "thread_id": thread_id,
        "thread": thread_json(row) if row is not None else None,
        "item": item_json(item) if item is not None else None,
        "root": item_json(root) if root is not None else None,
        "root_text": root_text,
        "root_scores": root_scores,
        "replies": [item_json(reply) for reply in replies],
        "queued": int(queued),
        "replies_total": int(counted[0]),
        "replies_counted": int(counted[1]),
        "authors": int(counted[2]),
    }
