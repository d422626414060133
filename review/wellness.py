"""Reviewer wellness: harassing text blurred until revealed, per-reviewer preferences, daily exposure, break prompts.

Trust-and-safety work exposes reviewers to abuse all day; the app treats that text as a hazard (issue 21 item 4):

- Text labelled harassing (`is_harassing`: the reviewer's decided label, else the model's) is blurred in the UI
  until the reviewer reveals that item (click or `v`); every reveal is recorded, and a revealed item stays revealed
  for that reviewer for the rest of the (UTC) day.
- Each reviewer chooses blur on/off and greyscale on/off (`Preferences`; the default blur is the setting
  `WITHYOU_REVIEW_BLUR_HARASSING`). With blur off, every harassing item shown counts as revealed (`via`
  "unblurred"), so the exposure counts stay true.
- Daily exposure per reviewer (`Exposure`, UTC days): items seen (an item page opened, or a reply listed in a
  thread view) and harassing items revealed, distinct items each; shown in the UI and by `withyou review status`.
- After `WITHYOU_REVIEW_BREAK_AFTER` harassing items in a row the UI prompts for a break (`in_a_row`).

Storage: two tables of their own metadata, created on first use on SQLite and PostgreSQL like the store's (no
migration tool): `review_reviewer_preferences` (one row per reviewer) and `review_exposure`, one row per event —
"seen", "reveal" (the audit of reveals: who, which item, when, by click, key or the blur preference) and "break"
(the prompt answered: taken or dismissed). No post text. Like `review_audit`, `review_exposure` is append-only: the
database refuses UPDATE and DELETE (triggers created with the table).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

from sqlalchemy import DDL, Boolean, CheckConstraint, Engine, Index, String, event, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from review.models import ID_TYPE, UTCDateTime, utc_now
from review.store import Conflict, ReviewError
from withyou.labels import HARASSING

EVENTS = ("seen", "reveal", "break")
VIAS = {"seen": ("page", "thread"), "reveal": ("click", "key", "unblurred"), "break": ("taken", "dismissed")}
PAUSE_ENDS_A_RUN = timedelta(minutes=15)  # a pause this long between two items counts as a break
RUN_EVENTS_READ = 1000  # the longest run of harassing items counted (far above any sensible BREAK_AFTER)


class WellnessBase(DeclarativeBase):
    pass


class ReviewerPreference(WellnessBase):
    __tablename__ = "review_reviewer_preferences"

    reviewer: Mapped[str] = mapped_column(String(64), primary_key=True)
    blur: Mapped[bool] = mapped_column(Boolean)
    greyscale: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)


class ExposureEvent(WellnessBase):
    __tablename__ = "review_exposure"

    id: Mapped[int] = mapped_column(ID_TYPE, primary_key=True, autoincrement=True)
    reviewer: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(16))
    via: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int | None] = mapped_column(ID_TYPE)  # none for a break
    harassing: Mapped[bool] = mapped_column(Boolean, default=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utc_now)

    __table_args__ = (
        CheckConstraint(f"event IN {EVENTS}", name="review_exposure_event"),
        Index("ix_review_exposure_reviewer_at", "reviewer", "at"),
        Index("ix_review_exposure_at", "at"),
    )


for _ddl in [
    *(
        DDL(f"CREATE TRIGGER IF NOT EXISTS review_exposure_no_{verb.lower()} BEFORE {verb} ON review_exposure "
            "BEGIN SELECT RAISE(ABORT, 'review_exposure is append-only'); END").execute_if(dialect="sqlite")
        for verb in ("UPDATE", "DELETE")
    ),
    DDL("CREATE OR REPLACE FUNCTION review_exposure_append_only() RETURNS trigger AS $$ "
        "BEGIN RAISE EXCEPTION 'review_exposure is append-only'; END; $$ LANGUAGE plpgsql").execute_if(dialect="postgresql"),
    DDL("CREATE TRIGGER review_exposure_append_only BEFORE UPDATE OR DELETE ON review_exposure "
        "FOR EACH ROW EXECUTE FUNCTION review_exposure_append_only()").execute_if(dialect="postgresql"),
]:  # fmt: skip
    event.listen(ExposureEvent.__table__, "after_create", _ddl)


@dataclass(frozen=True)
class Preferences:
    blur: bool
    greyscale: bool


@dataclass(frozen=True)
class Exposure:
    """One reviewer's day so far (UTC), and the current run of harassing items."""

    day: date
    seen: int  # distinct items shown: item pages, replies listed in thread views
    revealed: int  # distinct harassing items whose text was shown unblurred
    breaks: int  # break prompts answered by taking the break
    in_a_row: int  # harassing items in the current run (`in_a_row`)
    break_due: bool  # in_a_row reached BREAK_AFTER


def is_harassing(item: dict[str, Any]) -> bool:
    """Whether a post's text is labelled harassing: the reviewer's decided label, else the model's label."""
    if item.get("kind", "post") != "post" or item.get("purged"):
        return False
    return (item["decided_label"] or item["label"]) == HARASSING


def parent_is_harassing(item: dict[str, Any]) -> bool:
    """Whether the model read the parent post as harassing (its text is blurred with the reply's)."""
    scores = item.get("parent_scores") or {}
    return bool(scores) and max(scores, key=scores.get) == HARASSING and not item.get("purged")


def in_a_row(events: Iterable[ExposureEvent], now: datetime) -> int:
    """Harassing items in the current run, reading `events` newest first.

    An item page opened or an item revealed adds its item (once); the run ends at an item page whose text is not
    harassing, at a break prompt answered, or at a pause of PAUSE_ENDS_A_RUN. Replies listed in a thread view
    neither add nor end a run: the harassing ones are blurred, and revealing one adds it.
    """
    items: set[int | None] = set()
    later = now
    for row in events:
        if later - row.at >= PAUSE_ENDS_A_RUN or row.event == "break":
            break
        later = row.at
        if row.event == "seen" and row.via == "page":
            if not row.harassing:
                break
            items.add(row.item_id)
        elif row.event == "reveal":
            items.add(row.item_id)
    return len(items)


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


class Wellness:
    """Preferences and exposure of the reviewers of one review database (the store's engine)."""

    _schema_ready: set[Engine] = set()
    _schema_lock = threading.Lock()

    def __init__(self, engine: Engine, blur_default: bool = True, break_after: int = 10) -> None:
        self.engine = engine
        self.blur_default = blur_default
        self.break_after = break_after  # 0: never prompt
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def from_settings(cls, engine: Engine, settings: Any) -> "Wellness":
        return cls(engine, blur_default=settings.blur_harassing, break_after=settings.break_after)

    def ensure_schema(self) -> None:
        if self.engine in self._schema_ready:
            return
        with self._schema_lock:
            if self.engine not in self._schema_ready:
                WellnessBase.metadata.create_all(self.engine)
                self._schema_ready.add(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        self.ensure_schema()
        with self._sessions.begin() as session:
            yield session

    # -- preferences -----------------------------------------------------------------------------------------

    def preferences(self, reviewer: str) -> Preferences:
        with self.session() as session:
            row = session.get(ReviewerPreference, reviewer)
            return Preferences(row.blur, row.greyscale) if row else Preferences(self.blur_default, False)

    def set_preferences(self, reviewer: str, blur: bool, greyscale: bool) -> Preferences:
        with self.session() as session:
            row = session.get(ReviewerPreference, reviewer) or ReviewerPreference(reviewer=reviewer)
            row.blur, row.greyscale, row.updated_at = blur, greyscale, utc_now()
            session.add(row)
        return Preferences(blur, greyscale)

    # -- exposure --------------------------------------------------------------------------------------------

    def saw(self, reviewer: str, items: Iterable[dict[str, Any]], via: str, blur: bool) -> set[int]:
        """Record `items` as seen (via "page" or "thread"); with `blur` off, harassing ones are also revealed
        ("unblurred"). Returns the ids of the harassing items shown unblurred: revealed earlier today, or now."""
        items = list(items)
        now = utc_now()
        harassing = [item["id"] for item in items if is_harassing(item) or parent_is_harassing(item)]
        with self.session() as session:
            revealed = self._revealed_since(session, reviewer, harassing, day_start(now.date()))
            rows = [ExposureEvent(reviewer=reviewer, event="seen", via=check_via("seen", via), item_id=item["id"],
                                  harassing=is_harassing(item), at=now) for item in items]  # fmt: skip
            if not blur:
                rows += [
                    ExposureEvent(reviewer=reviewer, event="reveal", via="unblurred", item_id=item_id, harassing=True,
                                  at=now)
                    for item_id in harassing if item_id not in revealed
                ]  # fmt: skip
                revealed = set(harassing)
            session.add_all(rows)
        return revealed

    def reveal(self, reviewer: str, item: dict[str, Any], via: str) -> None:
        """Record that the reviewer revealed this item's blurred text (Conflict when nothing of it is blurred)."""
        if not (is_harassing(item) or parent_is_harassing(item)):
            raise Conflict(f"item {item['id']} has no blurred text: nothing in it is labelled harassing")
        with self.session() as session:
            session.add(ExposureEvent(reviewer=reviewer, event="reveal", via=check_via("reveal", via),
                                      item_id=item["id"], harassing=True, at=utc_now()))  # fmt: skip

    def take_break(self, reviewer: str, via: str) -> None:
        """The break prompt answered ("taken" or "dismissed"): either way the run of harassing items ends."""
        with self.session() as session:
            session.add(ExposureEvent(reviewer=reviewer, event="break", via=check_via("break", via), at=utc_now()))

    def exposure(self, reviewer: str, now: datetime | None = None) -> Exposure:
        now = now or utc_now()
        with self.session() as session:
            counts = self._day_counts(session, now.date(), reviewer).get(reviewer, (0, 0, 0))
            recent = session.scalars(
                select(ExposureEvent)
                .where(ExposureEvent.reviewer == reviewer, ExposureEvent.at <= now)
                .order_by(ExposureEvent.at.desc(), ExposureEvent.id.desc())
                .limit(RUN_EVENTS_READ)
            ).all()
        run = in_a_row(recent, now)
        return Exposure(now.date(), *counts, in_a_row=run, break_due=0 < self.break_after <= run)

    def day(self, day: date | None = None) -> dict[str, tuple[int, int, int]]:
        """{reviewer: (items seen, harassing items revealed, breaks taken)} for one UTC day (default today)."""
        with self.session() as session:
            return self._day_counts(session, day or utc_now().date())

    def audit(self, reviewer: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Exposure events, newest first: the reveal audit (and seen / break rows)."""
        query = select(ExposureEvent).order_by(ExposureEvent.id.desc()).limit(limit)
        if reviewer is not None:
            query = query.where(ExposureEvent.reviewer == reviewer)
        with self.session() as session:
            return [
                {"reviewer": row.reviewer, "event": row.event, "via": row.via, "item_id": row.item_id,
                 "harassing": row.harassing, "at": row.at.isoformat(timespec="milliseconds")}
                for row in session.scalars(query)
            ]  # fmt: skip

    @staticmethod
    def _revealed_since(session: Session, reviewer: str, item_ids: list[int], since: datetime) -> set[int]:
        if not item_ids:
            return set()
        return set(
            session.scalars(
                select(ExposureEvent.item_id).where(
                    ExposureEvent.reviewer == reviewer,
                    ExposureEvent.event == "reveal",
                    ExposureEvent.at >= since,
                    ExposureEvent.item_id.in_(item_ids),
                )
            )
        )

    @staticmethod
    def _day_counts(session: Session, day: date, reviewer: str | None = None) -> dict[str, tuple[int, int, int]]:
        start, end = day_start(day), day_start(day + timedelta(days=1))

        def distinct_items(name: str) -> Any:
            return func.count(ExposureEvent.item_id.distinct()).filter(ExposureEvent.event == name)

        taken = func.count().filter(ExposureEvent.event == "break", ExposureEvent.via == "taken")
        query = (
            select(ExposureEvent.reviewer, distinct_items("seen"), distinct_items("reveal"), taken)
            .where(ExposureEvent.at >= start, ExposureEvent.at < end)
            .group_by(ExposureEvent.reviewer)
            .order_by(ExposureEvent.reviewer)
        )
        if reviewer is not None:
            query = query.where(ExposureEvent.reviewer == reviewer)
        return {name: (int(seen), int(revealed), int(breaks)) for name, seen, revealed, breaks in session.execute(query)}


def check_via(event_name: str, via: str) -> str:
    if via not in VIAS[event_name]:
        raise ReviewError(f"a {event_name} is recorded via {' or '.join(VIAS[event_name])}; got {via[:20]!r}")
    return via


def status_lines(wellness: Wellness, day: date | None = None) -> list[str]:
    """`withyou review status`: each reviewer's exposure on one UTC day."""
    day = day or utc_now().date()
    counts = wellness.day(day)
    if not counts:
        return [f"exposure {day.isoformat()} (UTC): no reviewer has seen an item"]
    return [f"exposure {day.isoformat()} (UTC):"] + [
        f"  {reviewer}: {seen} items seen, {revealed} harassing revealed, {breaks} breaks taken"
        for reviewer, (seen, revealed, breaks) in counts.items()
    ]
