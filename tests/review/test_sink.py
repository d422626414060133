"""The review sink (serving.hooks.ReviewSink): bounded retries, never blocking the hook, parent classification."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy.exc import OperationalError

from serving.hooks import ReviewQueue
from review.sink import BundleParentScorer, StoreSink
from review.store import ReviewStore
from tests.review.helpers import candidate
from withyou.bundle import Classifier, Item


def hold_write_lock(path, seconds: float) -> threading.Thread:
    """Another process's writer: an exclusive SQLite transaction held for `seconds`."""
    locked = threading.Event()

    def hold() -> None:
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN EXCLUSIVE")
        locked.set()
        time.sleep(seconds)
        connection.execute("ROLLBACK")
        connection.close()

    thread = threading.Thread(target=hold)
    thread.start()
    locked.wait(5)
    return thread


@pytest.fixture
def store(tmp_path) -> ReviewStore:
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}", busy_timeout_s=0.05)
    store.counts()  # create the tables before anyone locks the file
    return store


def test_sink_retries_a_locked_database_until_it_is_free(store, tmp_path):
    sink = StoreSink(store, attempts=6, backoff_s=0.1)
    holder = hold_write_lock(tmp_path / "review.db", seconds=0.4)

    sink.enqueue(candidate("locked", 0.9))
    holder.join()

    assert [item["external_id"] for item in store.queue()] == ["locked"]


def test_sink_gives_up_after_its_attempts_with_bounded_delay(store, tmp_path):
    sink = StoreSink(store, attempts=2, backoff_s=0.1)
    holder = hold_write_lock(tmp_path / "review.db", seconds=1.5)
    started = time.monotonic()

    with pytest.raises(OperationalError, match="locked"):
        sink.enqueue(candidate("never", 0.9))
    elapsed = time.monotonic() - started
    holder.join()

    assert elapsed < 1.0
    assert store.queue() == []


def test_an_unusable_store_never_blocks_the_hook_and_is_counted(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    sink = StoreSink(ReviewStore(f"sqlite:///{blocker / 'review.db'}"), attempts=3, backoff_s=0.05)
    outcomes: list[str] = []
    queue = ReviewQueue(sink, on_outcome=outcomes.append)

    started = time.perf_counter()
    for n in range(20):
        queue.offer(candidate(f"item-{n}", 0.9))
    offer_seconds = time.perf_counter() - started
    queue.close(timeout=10)

    assert offer_seconds < 0.05
    assert outcomes.count("queued") == 20 and outcomes.count("failed") == 20


def test_parent_scorer_flags_a_parent_the_model_reads_as_a_disclosure(tiny_bundle, tmp_path):
    parent = "He grabbed me at the office party last year and I never told anyone until now."
    expected = Classifier.from_bundle(tiny_bundle).predict([Item(text=parent)])[0]
    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    sink = StoreSink(store, parent_scorer=BundleParentScorer(Classifier.from_bundle(tiny_bundle)))

    sink.enqueue(candidate("reply", 0.9, parent_text=parent))

    (item,) = store.queue()
    assert item["parent_scores"] == pytest.approx(expected.scores, abs=1e-5)
    assert item["parent_is_disclosure"] == (expected.label == "disclosure")


def test_a_failing_parent_scorer_still_queues_the_item(tmp_path):
    def broken(parent_text: str):
        raise RuntimeError("model unavailable")

    store = ReviewStore(f"sqlite:///{tmp_path / 'review.db'}")
    StoreSink(store, parent_scorer=broken).enqueue(candidate("reply", 0.9, parent_text="a parent"))

    (item,) = store.queue()
    assert item["parent_scores"] is None and item["parent_is_disclosure"] is False


def test_the_old_sink_name_still_builds_the_review_sink_with_a_deprecation_line(tmp_path, monkeypatch, caplog):
    from review.config import get_review_settings
    from serving.hooks import load_sink

    monkeypatch.setenv("WITHYOU_REVIEW_DB", str(tmp_path / "review.db"))
    monkeypatch.setenv("WITHYOU_REVIEW_CLASSIFY_PARENTS", "false")
    get_review_settings.cache_clear()
    try:
        with caplog.at_level("WARNING", logger="withyou.serving.hooks"):
            sink = load_sink("serving.review.sink:create_sink", classifier=None)
    finally:
        get_review_settings.cache_clear()

    assert isinstance(sink, StoreSink)
    assert sink.store.url.endswith(str(tmp_path / "review.db"))
    assert [r.getMessage() for r in caplog.records] == [
        "deprecated: review_sink=serving.review.sink:create_sink names the review app's old home; "
        "use review.sink:create_sink (the old name will stop working)"
    ]
