"""Pile-on detection in the review store (review/threads.py), on a real SQLite file and a real PostgreSQL server:
the count and share rules, one escalation per thread, the repeat-author signal, restart survival, retention; and
the sink around it: author hashing, the cached thread status, the signed webhook, the hook's background thread."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from review.export import reviewed_records
from review.sink import StoreSink
from review.store import ReviewStore
from review.threads import PileOnRule
from review.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, Webhook, verify_signature
from serving.hooks import ReviewCandidate, ReviewQueue, ThreadReply
from withyou.paths import REPO_ROOT

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=timezone.utc)
AUTHOR_KEY = b"k" * 32
ALICE, BOB = "a" * 64, "b" * 64  # author hashes, as the sink hands them to the store


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


def reply(thread_id: str, n: int, harassing: bool = True, minutes: float = 0.0, action: str | None = None,
          author: str | None = None) -> ThreadReply:  # fmt: skip
    action = action or ("review" if harassing else "allow")
    label = "harassing" if harassing else "supportive"
    return ThreadReply(f"{thread_id}-{n}", thread_id, label, action, at(minutes), author)


def queued_reply(thread_id: str, n: int, minutes: float = 0.0, action: str = "hide", author: str | None = None):
    return ReviewCandidate(
        id=f"{thread_id}-q{n}",
        text="you are a liar",
        parent_text="it happened to me",
        label="harassing",
        scores={"disclosure": 0.01, "supportive": 0.01, "harassing": 0.97, "neutral": 0.01},
        action=action,
        model_version="test-model",
        classified_at=at(minutes),
        thread_id=thread_id,
        author_id=author,
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path) -> str:
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    return f"sqlite:///{tmp_path / 'review.db'}"


@pytest.fixture
def store(url) -> ReviewStore:
    return ReviewStore(url)


def thread_items(store: ReviewStore) -> list[dict]:
    return [item for item in store.queue(limit=500) if item["kind"] == "thread"]


def test_five_harassing_replies_within_an_hour_put_the_thread_under_attack(store):
    outcomes = [store.count_reply(reply("t1", n, minutes=10 * n)) for n in range(5)]

    assert [o.under_attack for o in outcomes] == [False, False, False, False, True]
    assert outcomes[-1].rule == "count" and outcomes[-1].counted_in_window == 5
    assert store.threads_under_attack(now=T0 + timedelta(hours=1)) == {"t1"}
    assert store.thread("t1")["status"] == "under_attack"


def test_harassing_replies_spread_wider_than_the_window_do_not(store):
    outcomes = [store.count_reply(reply("t1", n, minutes=20 * n)) for n in range(8)]  # 3 or 4 per hour

    assert not any(o.under_attack for o in outcomes)
    assert store.threads_under_attack(now=T0 + timedelta(hours=3)) == set()


def test_benign_replies_never_count(store):
    outcomes = [store.count_reply(reply("t1", n, harassing=False, minutes=n)) for n in range(40)]

    assert not any(o.under_attack for o in outcomes) and thread_items(store) == []


def test_thirty_percent_of_the_last_twenty_replies_put_it_under_attack(store):
    """Six harassing replies among twenty, hours apart (never five in an hour): the share rule, not the count."""
    harassing_at = {3, 7, 10, 13, 16, 19}
    outcomes = [store.count_reply(reply("t1", n, harassing=n in harassing_at, minutes=90 * n)) for n in range(20)]

    assert [n for n, o in enumerate(outcomes) if o.under_attack] == [19]
    assert outcomes[19].rule == "share" and outcomes[19].share_of_last == pytest.approx(0.3)


def test_five_of_the_last_twenty_is_below_the_share(store):
    harassing_at = {3, 7, 10, 13, 19}
    outcomes = [store.count_reply(reply("t1", n, harassing=n in harassing_at, minutes=90 * n)) for n in range(20)]

    assert not any(o.under_attack for o in outcomes)


def test_a_thread_escalates_once_as_one_item_ahead_of_single_posts(store):
    store.enqueue(queued_reply("other", 1, action="review"))
    outcomes = [store.count_reply(reply("t1", n, minutes=n)) for n in range(30)]

    assert sum(o.under_attack for o in outcomes) == 1
    [thread_item] = thread_items(store)
    assert thread_item["thread_id"] == "t1" and thread_item["text"] == ""
    assert store.queue()[0]["id"] == thread_item["id"] == store.thread("t1")["item_id"]


def test_thread_items_are_not_exported_as_training_records(store):
    for n in range(5):
        store.count_reply(reply("t1", n, minutes=n))
    [thread_item] = thread_items(store)
    store.decide(thread_item["id"], "alice", "resolved")

    assert reviewed_records(store) == ([], 0)


def test_a_queued_reply_is_counted_with_its_thread_and_a_resent_one_is_not(store):
    for n in range(4):
        store.enqueue(queued_reply("t1", n, minutes=n))
    store.enqueue(queued_reply("t1", 0, minutes=4))  # the same id again, still open: neither queued nor counted

    assert thread_items(store) == []
    _, outcome = store.enqueue_counting(queued_reply("t1", 4, minutes=5))
    assert outcome.under_attack and len(thread_items(store)) == 1


def test_the_root_post_itself_is_not_a_reply(store):
    root = ThreadReply("t1", "t1", "harassing", "hide", at(0))

    assert store.count_reply(root) is None


def test_an_author_with_three_hidden_replies_across_threads_in_a_day_is_flagged(store):
    first = store.enqueue(queued_reply("t1", 1, minutes=0), None, ALICE)
    other = store.enqueue(queued_reply("t1", 2, minutes=0), None, BOB)
    store.count_reply(reply("t2", 1, action="hide", minutes=60), ALICE)
    assert store.item(first)["repeat_author"] is False
    store.count_reply(reply("t3", 1, action="hide", minutes=120), ALICE)

    later = store.enqueue(queued_reply("t4", 1, minutes=180, action="review"), None, ALICE)
    assert store.item(first)["repeat_author"] is True and store.item(later)["repeat_author"] is True
    assert store.item(other)["repeat_author"] is False


def test_hidden_replies_older_than_the_author_window_do_not_flag(store):
    store.count_reply(reply("t1", 1, action="hide", minutes=0), ALICE)
    store.count_reply(reply("t2", 1, action="hide", minutes=60), ALICE)
    item = store.enqueue(queued_reply("t3", 1, minutes=25 * 60), None, ALICE)  # the first is 25 hours old

    assert store.item(item)["repeat_author"] is False


def test_under_attack_ends_for_answers_after_the_hold_but_never_escalates_again(store):
    for n in range(5):
        store.count_reply(reply("t1", n, minutes=n))

    assert store.threads_under_attack(now=T0 + timedelta(hours=23)) == {"t1"}
    assert store.threads_under_attack(now=T0 + timedelta(hours=25)) == set()
    later = [store.count_reply(reply("t1", 100 + n, minutes=48 * 60 + n)) for n in range(5)]
    assert not any(o.under_attack for o in later) and len(thread_items(store)) == 1


def test_counting_survives_a_restart_of_the_process(url):
    """Four harassing replies counted by one process that then exits; the fifth, in a fresh process, tips it."""
    times = [(datetime.now(timezone.utc) - timedelta(minutes=10 - n)).isoformat() for n in range(5)]
    script = (
        "import sys; from review.store import ReviewStore; from serving.hooks import ThreadReply\n"
        "store = ReviewStore(sys.argv[1])\n"
        "for n, when in enumerate(sys.argv[2:]):\n"
        "    store.count_reply(ThreadReply(f'r{n}', 't1', 'harassing', 'hide', when))\n"
    )
    completed = subprocess.run([sys.executable, "-c", script, url, *times[:4]], cwd=REPO_ROOT, capture_output=True,
                               text=True, timeout=120)  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-2000:]

    store = ReviewStore(url)
    outcome = store.count_reply(ThreadReply("r4", "t1", "harassing", "hide", times[4]))
    assert outcome.under_attack and outcome.counted_in_window == 5
    sink = StoreSink(store)
    sink.refresh_thread_status()
    assert sink.thread_status("t1") == "under_attack"


def test_purge_deletes_counts_threads_and_author_hashes_past_the_retention(store):
    old_item = store.enqueue(queued_reply("t1", 1, minutes=0), None, ALICE)
    for n in range(5):
        store.count_reply(reply("t1", n, minutes=n), ALICE)

    kept = store.purge_threads(7, now=T0 + timedelta(days=6))
    assert kept == {"thread_replies": 0, "threads": 0, "author_hashes": 0}
    expired = store.purge_threads(7, now=datetime.now(timezone.utc) + timedelta(days=8))
    assert expired == {"thread_replies": 6, "threads": 1, "author_hashes": 1}
    with store.session() as session:
        from review.models import ReviewItem

        assert session.get(ReviewItem, old_item).author_hash is None
    assert store.threads_under_attack(now=T0) == set()


def test_the_sink_keeps_only_the_keyed_hash_of_an_author_id(tmp_path):
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    sink = StoreSink(store, author_key=AUTHOR_KEY)
    item_id, _ = sink.store.enqueue_counting(queued_reply("t1", 1), None, sink.hash_author("platform-user-8812"))
    sink.enqueue(queued_reply("t1", 2, author="platform-user-8812"))

    expected = hmac.new(AUTHOR_KEY, b"platform-user-8812", hashlib.sha256).hexdigest()
    with store.session() as session:
        from review.models import ReviewItem, ThreadReplyRow

        assert {row.author_hash for row in session.query(ThreadReplyRow)} == {expected}
        assert session.get(ReviewItem, item_id).author_hash == expected
    for path in tmp_path.iterdir():
        assert b"platform-user-8812" not in path.read_bytes()


def test_without_an_author_key_author_ids_are_dropped_with_one_warning(tmp_path, caplog):
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    sink = StoreSink(store)
    with caplog.at_level(logging.WARNING, logger="withyou.review"):
        sink.enqueue(queued_reply("t1", 1, author="platform-user-8812"))
        sink.count_reply(reply("t1", 2, author="platform-user-8812"))

    with store.session() as session:
        from review.models import ReviewItem, ThreadReplyRow

        assert [row.author_hash for row in session.query(ThreadReplyRow)] == [None, None]
        assert [item.author_hash for item in session.query(ReviewItem)] == [None]
    assert [r.getMessage() for r in caplog.records] == [
        "author ids are dropped: set WITHYOU_REVIEW_AUTHOR_KEY to keep their keyed hashes"
    ]


def test_another_worker_learns_the_status_at_its_next_refresh(url):
    worker_a, worker_b = StoreSink(ReviewStore(url)), StoreSink(ReviewStore(url))
    now = datetime.now(timezone.utc)
    events = [worker_a.count_reply(ThreadReply(f"r{n}", "t1", "harassing", "hide", now.isoformat())) for n in range(5)]

    assert events[-1] == ["thread_under_attack"] and worker_a.thread_status("t1") == "under_attack"
    assert worker_b.thread_status("t1") is None  # stale until its refresh
    worker_b.refresh_thread_status()
    assert worker_b.thread_status("t1") == "under_attack" and worker_b.thread_status("t2") is None


class Receiver:
    """A real local HTTP endpoint: answers the first `failures` POSTs with 503, then 204; keeps what it got."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.received.append((dict(self.headers), body))
                self.send_response(503 if len(outer.received) <= outer.failures else 204)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    started = Receiver(failures=2)
    yield started
    started.close()


def test_the_webhook_is_signed_and_retried_with_backoff(receiver):
    delays: list[float] = []
    webhook = Webhook(receiver.url, b"webhook-secret-0123", attempts=3, backoff_s=0.05, sleep=delays.append)

    assert webhook.send({"event_id": "under_attack:t1", "thread_id": "t1"})
    assert len(receiver.received) == 3 and delays == [0.05, 0.1]
    headers, body = receiver.received[-1]
    assert verify_signature(b"webhook-secret-0123", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify_signature(b"another-secret-000", headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    assert not verify_signature(b"webhook-secret-0123", headers[TIMESTAMP_HEADER], body + b" ", headers[SIGNATURE_HEADER])
    assert json.loads(body) == {"event": "thread.under_attack", "event_id": "under_attack:t1", "thread_id": "t1"}


def test_a_webhook_that_keeps_failing_gives_up_after_its_attempts(receiver):
    receiver.failures = 100
    webhook = Webhook(receiver.url, b"webhook-secret-0123", attempts=2, backoff_s=0.0, sleep=lambda s: None)

    assert webhook.send({"event_id": "e"}) is False and len(receiver.received) == 2


def test_the_hook_thread_counts_replies_reports_one_attack_and_refreshes(tmp_path, receiver):
    receiver.failures = 0
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    webhook = Webhook(receiver.url, b"webhook-secret-0123", attempts=2, backoff_s=0.0)
    sink = StoreSink(store, webhook=webhook, refresh_s=0.05, author_key=AUTHOR_KEY)
    events, reply_outcomes, refreshed = [], [], threading.Event()
    refresh = sink.refresh_thread_status
    sink.refresh_thread_status = lambda: (refresh(), refreshed.set())
    hook = ReviewQueue(sink, on_event=events.append, on_reply_outcome=reply_outcomes.append)
    now = datetime.now(timezone.utc).isoformat()
    for n in range(8):
        hook.offer(ThreadReply(f"r{n}", "t1", "harassing", "hide", now, author_id=f"user-{n % 2}"))
    hook.close()

    assert refreshed.wait(5)
    assert reply_outcomes.count("delivered") == 8
    assert events.count("thread_under_attack") == 1 and events.count("webhook_delivered") == 1
    assert events.count("repeat_author") == 2  # user-0 and user-1 reach three hidden replies once each
    assert len(receiver.received) == 1 and sink.thread_status("t1") == "under_attack"
    assert hook.thread_status("t1") == "under_attack" and hook.wants_reply("t1", "r9") and not hook.wants_reply("t1", "t1")


def test_the_rule_is_read_from_the_settings(monkeypatch):
    from review.config import ReviewSettings

    monkeypatch.setenv("WITHYOU_REVIEW_PILE_ON_COUNT", "8")
    monkeypatch.setenv("WITHYOU_REVIEW_PILE_ON_SHARE", "0.5")
    rule = PileOnRule.from_settings(ReviewSettings())

    assert (rule.count, rule.share, rule.last, rule.window) == (8, 0.5, 20, timedelta(minutes=60))
    assert PileOnRule.defaults() == PileOnRule.from_settings(ReviewSettings.model_construct())


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"WITHYOU_REVIEW_WEBHOOK_URL": "http://127.0.0.1:9/x"}, "needs WITHYOU_REVIEW_WEBHOOK_SECRET"),
        ({"WITHYOU_REVIEW_THREAD_RETENTION_DAYS": "1", "WITHYOU_REVIEW_ATTACK_HOLD_HOURS": "48"}, "must cover"),
        ({"WITHYOU_REVIEW_AUTHOR_KEY": "too-short-author-key"}, "at least 32 characters"),
    ],
)
def test_inconsistent_thread_settings_are_refused(monkeypatch, env, says):
    from pydantic import ValidationError

    from review.config import ReviewSettings

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=says) as refused:
        ReviewSettings()
    assert not any(value in str(refused.value) for value in env.values() if len(value) > 8)  # inputs never echoed


def test_a_queue_created_before_threads_gains_the_columns_and_keeps_its_items(tmp_path):
    import sqlite3

    db = tmp_path / "old.db"
    old = ReviewStore(f"sqlite:///{db}")
    item_id = old.enqueue(queued_reply("t1", 1))
    with sqlite3.connect(db) as connection:
        for column in ("kind", "thread_id", "author_hash", "repeat_author"):
            connection.execute(f"DROP INDEX IF EXISTS ix_review_items_{column}")
            connection.execute(f"ALTER TABLE review_items DROP COLUMN {column}")

    reopened = ReviewStore(f"sqlite:///{db}")
    assert reopened.item(item_id)["kind"] == "post" and reopened.item(item_id)["thread_id"] is None
    assert reopened.enqueue(queued_reply("t1", 2)) == item_id + 1
