"""Priority classes and their service levels: how long an open item of each class may wait (issue 21 item 5).

The reviewer queue is ordered (review/store.py: ReviewStore._priority) threads under attack, then replies to a
disclosure, then P(harassing) high to low, then age (oldest first). Each open item falls in one priority class:

    thread             a thread under attack (one `kind` "thread" item per thread, review/threads.py)
    disclosure_reply   a post replying to a disclosure (`parent_is_disclosure`)
    post               any other post
    appeal             an author's appeal of a decision (review/appeals.py; its own queue, oldest first)

An open item's age is the time since it was queued (`enqueued_at`); it breaches its service level once its age
exceeds its class's level (settings `WITHYOU_REVIEW_SLA_<CLASS>_MINUTES`, declared in review/config.py). `report`
counts, per class, the open items, the breaches and the oldest item, at a `now` the caller gives: tests pass a
fake clock, `withyou review status`, `/review/api/status` and /metrics (review/metrics.py) the real one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from review.models import OPEN_STATUSES, ReviewItem, iso

PRIORITY_CLASSES = ("thread", "disclosure_reply", "post", "appeal")


@dataclass(frozen=True)
class ServiceLevels:
    """The longest an open item of each priority class should wait."""

    thread: timedelta
    disclosure_reply: timedelta
    post: timedelta
    appeal: timedelta

    @classmethod
    def defaults(cls) -> "ServiceLevels":
        """The levels with review/config.py's defaults (environment not read)."""
        from review.config import ReviewSettings

        return cls.from_settings(ReviewSettings.model_construct())

    @classmethod
    def from_settings(cls, settings: Any) -> "ServiceLevels":
        return cls(**{name: timedelta(minutes=getattr(settings, f"sla_{name}_minutes")) for name in PRIORITY_CLASSES})

    def of(self, priority_class: str) -> timedelta:
        return getattr(self, priority_class)


def priority_class(item: ReviewItem) -> str:
    if item.kind in ("thread", "appeal"):
        return item.kind
    return "disclosure_reply" if item.parent_is_disclosure else "post"


def in_class(priority_class: str) -> ColumnElement[bool]:
    """The SQL condition for items of one priority class (the same split as `priority_class`)."""
    if priority_class in ("thread", "appeal"):
        return ReviewItem.kind == priority_class
    is_post = ReviewItem.kind == "post"
    if priority_class == "disclosure_reply":
        return is_post & ReviewItem.parent_is_disclosure.is_(True)
    return is_post & ReviewItem.parent_is_disclosure.is_not(True)


def item_fields(item: ReviewItem, levels: ServiceLevels, now: datetime) -> dict[str, Any]:
    """An item's priority class and, while it is open, its age and whether it breaches its service level."""
    name = priority_class(item)
    is_open = item.status in OPEN_STATUSES
    age = now - item.enqueued_at if is_open else None
    return {
        "priority_class": name,
        "age_seconds": round(age.total_seconds(), 3) if age is not None else None,
        "sla_minutes": int(levels.of(name).total_seconds() // 60),
        "sla_breached": age > levels.of(name) if age is not None else None,
    }


def duration(seconds: float) -> str:
    """A short human duration: 45s, 12m, 3h05m, 2d04h."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def report(session: Session, levels: ServiceLevels, now: datetime) -> dict[str, dict[str, Any]]:
    """Per priority class: open items, the service level, how many breach it, and the oldest open item."""
    found = {}
    for name in PRIORITY_CLASSES:
        is_open = ReviewItem.status.in_(OPEN_STATUSES) & in_class(name)
        count = session.scalar(select(func.count()).where(is_open))
        breached = session.scalar(select(func.count()).where(is_open, ReviewItem.enqueued_at < now - levels.of(name)))
        oldest = session.execute(
            select(ReviewItem.id, ReviewItem.enqueued_at)
            .where(is_open)
            .order_by(ReviewItem.enqueued_at, ReviewItem.id)
            .limit(1)
        ).first()
        found[name] = {
            "open": int(count),
            "sla_minutes": int(levels.of(name).total_seconds() // 60),
            "breached": int(breached),
            "oldest_item_id": oldest.id if oldest else None,
            "oldest_enqueued_at": iso(oldest.enqueued_at) if oldest else None,
            "oldest_age_seconds": round((now - oldest.enqueued_at).total_seconds(), 3) if oldest else None,
        }
    return found
