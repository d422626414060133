"""Priorities and service levels (issue 21 item 5), on SQLite and PostgreSQL: the queue order by class, ties by
P(harassing) then age; each open item's age; breaches and the oldest open item per class, counted at a fake clock
(no sleeping); `withyou review status` showing them."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from typer.testing import CliRunner

from orchestration.cli import app
from review.models import utc_now
from review.sla import PRIORITY_CLASSES, ServiceLevels
from review.store import ReviewStore
from review.threads import PileOnRule
from serving.hooks import ThreadReply
from tests.review.helpers import DISCLOSURE_PARENT, NEUTRAL_PARENT, FakeClock, candidate

LEVELS = ServiceLevels(
    thread=timedelta(minutes=30),
    disclosure_reply=timedelta(minutes=60),
    post=timedelta(minutes=120),
    appeal=timedelta(minutes=240),
)
TWO_COUNTED_REPLIES = PileOnRule(
    count=2, window=timedelta(minutes=60), share=1.0, last=20, hold=timedelta(hours=24), repeat_hidden=3,
    repeat_window=timedelta(hours=24),
)  # fmt: skip


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'review.db'}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(utc_now() - timedelta(days=1))


@pytest.fixture
def store(url, clock) -> ReviewStore:
    return ReviewStore(url, service_levels=LEVELS, pile_on=TWO_COUNTED_REPLIES, clock=clock)


def attack(store: ReviewStore, thread_id: str) -> int:
    """Two harassing replies put `thread_id` under attack (TWO_COUNTED_REPLIES); its one thread item's id."""
    for n in range(2):
        reply = ThreadReply(id=f"{thread_id}-r{n}", thread_id=thread_id, label="harassing", action="hide",
                            classified_at=utc_now().isoformat())  # fmt: skip
        outcome = store.count_reply(reply)
    assert outcome.under_attack
    return outcome.thread_item_id


def test_queue_order_is_threads_then_disclosure_replies_then_score_then_age(store, clock):
    store.enqueue(candidate("post-tie-old", 0.5))
    clock.advance(minutes=1)
    store.enqueue(candidate("post-tie-new", 0.5))
    clock.advance(minutes=1)
    store.enqueue(candidate("post-high", 0.9, parent_text="p"), NEUTRAL_PARENT)
    for n, score in enumerate((0.4, 0.4, 0.7)):
        clock.advance(minutes=1)
        store.enqueue(candidate(f"disclosure-{n}-{score}", score, parent_text=f"d{n}"), DISCLOSURE_PARENT)
    first_thread = attack(store, "thread-a")
    second_thread = attack(store, "thread-b")

    items = store.queue()

    assert [item["external_id"] or item["id"] for item in items] == [
        first_thread, second_thread, "disclosure-2-0.7", "disclosure-0-0.4", "disclosure-1-0.4", "post-high",
        "post-tie-old", "post-tie-new",
    ]  # fmt: skip
    assert [item["priority_class"] for item in items] == ["thread"] * 2 + ["disclosure_reply"] * 3 + ["post"] * 3


def test_ties_in_score_and_age_fall_back_to_the_item_id(store):
    ids = [store.enqueue(candidate(f"same-{n}", 0.6)) for n in range(3)]  # the fake clock stands still

    assert [item["id"] for item in store.queue()] == ids


def test_every_open_item_has_its_age_and_decided_items_have_none(store, clock):
    waiting = store.enqueue(candidate("waiting", 0.5))
    decided = store.enqueue(candidate("decided", 0.5))
    store.decide(decided, "alice", "neutral")
    clock.advance(minutes=90)

    by_id = {item["id"]: item for item in store.queue(("pending", "decided"))}

    assert by_id[waiting]["age_seconds"] == 90 * 60
    assert by_id[waiting]["sla_minutes"] == 120 and by_id[waiting]["sla_breached"] is False
    assert by_id[decided]["age_seconds"] is None and by_id[decided]["sla_breached"] is None
    clock.advance(minutes=31)
    assert store.item(waiting)["sla_breached"] is True


def test_breaches_and_the_oldest_item_are_counted_per_class_at_the_clock(store, clock):
    start = clock.now
    old_post = store.enqueue(candidate("post-old", 0.2))
    disclosure = store.enqueue(candidate("disclosure", 0.3, parent_text="d"), DISCLOSURE_PARENT)
    clock.advance(minutes=30)
    store.enqueue(candidate("post-new", 0.9))
    claimed = store.enqueue(candidate("claimed", 0.1))
    store.claim(claimed, "alice")
    store.decide(store.enqueue(candidate("decided-long-ago", 0.5)), "alice", "neutral")

    at_61 = store.status_report(now=start + timedelta(minutes=61))["service_levels"]
    at_121 = store.status_report(now=start + timedelta(minutes=121))["service_levels"]
    at_151 = store.status_report(now=start + timedelta(minutes=151))["service_levels"]

    assert {name: row["breached"] for name, row in at_61.items()} == {
        "thread": 0, "disclosure_reply": 1, "post": 0, "appeal": 0}  # fmt: skip
    assert at_61["post"]["open"] == 3 and at_61["disclosure_reply"]["open"] == 1  # claimed is open, decided is not
    assert (at_61["post"]["oldest_item_id"], at_61["post"]["oldest_age_seconds"]) == (old_post, 61 * 60)
    assert at_61["disclosure_reply"]["oldest_item_id"] == disclosure
    assert at_121["post"]["breached"] == 1  # 121 min > 120; the other two have waited 91
    assert at_151["post"]["breached"] == 3  # 151 and 121 > 120 twice
    assert at_61["thread"] == {"open": 0, "sla_minutes": 30, "breached": 0, "oldest_item_id": None,
                               "oldest_enqueued_at": None, "oldest_age_seconds": None}  # fmt: skip


def test_an_item_exactly_at_its_service_level_has_not_breached_it(store, clock):
    start = clock.now
    store.enqueue(candidate("edge", 0.5))

    assert store.status_report(now=start + timedelta(minutes=120))["service_levels"]["post"]["breached"] == 0
    assert store.status_report(now=start + timedelta(minutes=120, seconds=1))["service_levels"]["post"]["breached"] == 1


def test_a_thread_under_attack_breaches_its_own_shorter_level(store):
    item_id = attack(store, "thread-sla")

    thread = store.status_report(now=utc_now() + timedelta(minutes=31))["service_levels"]["thread"]

    assert (thread["open"], thread["breached"], thread["oldest_item_id"]) == (1, 1, item_id)
    assert store.status_report(now=utc_now() + timedelta(minutes=29))["service_levels"]["thread"]["breached"] == 0


def test_an_appeal_waits_in_its_own_class_and_queue(store, clock):
    start = clock.now
    post = store.enqueue(candidate("hidden", 0.95))
    store.decide(post, "alice", "harassing")
    clock.advance(minutes=10)
    appeal = store.open_appeal("hidden", "I was quoting him to condemn it")

    report = store.status_report(now=start + timedelta(minutes=10 + 241))["service_levels"]["appeal"]

    assert (report["open"], report["breached"], report["oldest_item_id"]) == (1, 1, appeal["id"])
    assert appeal["id"] not in [item["id"] for item in store.queue()]
    assert [a["id"] for a in store.appeals()] == [appeal["id"]]


def test_service_levels_come_from_the_settings():
    from review.config import ReviewSettings

    levels = ServiceLevels.from_settings(ReviewSettings(sla_thread_minutes=5, sla_post_minutes=600))

    assert (levels.thread, levels.post) == (timedelta(minutes=5), timedelta(minutes=600))
    assert levels.disclosure_reply == timedelta(minutes=120) and levels.appeal == timedelta(minutes=2880)


def test_status_command_reports_breaches_and_the_oldest_item_per_class(tmp_path, monkeypatch):
    db = tmp_path / "review.db"
    three_hours_ago = FakeClock(utc_now() - timedelta(hours=3))
    past = ReviewStore(f"sqlite:///{db}", clock=three_hours_ago)  # default levels: post 24 h, disclosure reply 2 h
    oldest = past.enqueue(candidate("late", 0.4, parent_text="d"), DISCLOSURE_PARENT)
    past.enqueue(candidate("fresh-enough", 0.4))
    monkeypatch.setenv("WITHYOU_REVIEW_DB", str(db))
    from review.config import get_review_settings

    get_review_settings.cache_clear()
    try:
        text = CliRunner().invoke(app, ["review", "status"])
        as_json = CliRunner().invoke(app, ["review", "status", "--json"])
    finally:
        get_review_settings.cache_clear()

    assert text.exit_code == 0, text.output
    rows = {line.split()[0]: line.split() for line in text.output.splitlines() if line.split()[:1] in [[c] for c in PRIORITY_CLASSES]}
    assert rows["disclosure_reply"][1:4] == ["1", "2h00m", "1"]  # open, SLA, breached
    assert f"#{oldest}, waiting 3h00m" in text.output
    assert rows["post"][1:4] == ["1", "1d00h", "0"]
    report = json.loads(as_json.output)
    assert report["service_levels"]["disclosure_reply"]["breached"] == 1
    assert report["service_levels"]["disclosure_reply"]["oldest_item_id"] == oldest
