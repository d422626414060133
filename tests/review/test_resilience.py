"""What must survive failures: /classify when the review store is broken, and decisions across a `kill -9`."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from serving.process import kill_process
from tests.serving.conftest import stop_server
from tests.review.conftest import CLASSIFY_KEY, ReviewServer, start_review_server
from tests.serving.test_ops import metric_value


def failed_candidates(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return metric_value(text, "withyou_review_candidates_total", outcome="failed")


@pytest.fixture(scope="module")
def broken_store_server(tiny_bundle, tmp_path_factory) -> Iterator[ReviewServer]:
    """A server whose review DB path lies under a regular file: every enqueue fails."""
    directory = tmp_path_factory.mktemp("broken_store")
    blocker = directory / "not-a-directory"
    blocker.write_text("the review DB cannot live under a file")
    running = start_review_server(tiny_bundle, directory, blocker / "review.db")
    yield running
    stop_server(running.server)


def wait_for_failures(url: str, wanted: float, timeout_s: float = 15.0) -> float:
    deadline = time.monotonic() + timeout_s
    while (seen := failed_candidates(url)) < wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    return seen


def test_classify_answers_while_the_review_store_is_broken(broken_store_server):
    started = time.perf_counter()
    response = broken_store_server.server.classify(
        [{"id": "broken-1", "text": "a post"}, {"id": "broken-2", "text": "another"}], headers={"X-API-Key": CLASSIFY_KEY}
    )
    elapsed = time.perf_counter() - started

    assert response.status_code == 200
    assert [r["action"] for r in response.json()] == ["review", "review"]
    assert elapsed < 5


def test_review_store_failures_are_counted_in_metrics_and_logged_by_id(broken_store_server):
    before = failed_candidates(broken_store_server.url)

    broken_store_server.classify([{"id": "counted-1", "text": "zqxj-broken-store-post"}])

    assert wait_for_failures(broken_store_server.url, before + 1) == before + 1
    log = broken_store_server.server.log_text()
    assert "review sink failed for item id=counted-1" in log
    assert "zqxj-broken" not in log


def test_reviewer_api_says_the_store_is_unavailable(broken_store_server):
    response = broken_store_server.api("GET", "/queue")

    assert response.status_code == 503
    assert response.json()["error"].startswith("cannot create the review database folder")


def test_a_decision_committed_before_kill_9_survives_the_restart(tiny_bundle, tmp_path):
    db = tmp_path / "review.db"
    first = start_review_server(tiny_bundle, tmp_path / "first", db)
    try:
        item_id = first.enqueue("durable", "a reply to keep")["id"]
        decided = first.api("POST", f"/items/{item_id}/decide", json={"decision": "supportive", "note": "kept"})
        assert decided.status_code == 200
    finally:
        kill_process(first.server.process)  # kill -9 of the supervisor, BentoML's arbiter and its workers at once

    second = start_review_server(tiny_bundle, tmp_path / "second", db)
    try:
        item = second.api("GET", f"/items/{item_id}").json()
        audit = second.api("GET", f"/items/{item_id}/audit").json()
    finally:
        stop_server(second.server)

    assert (item["status"], item["decided_label"], item["decided_by"], item["note"]) == ("decided", "supportive", "alice", "kept")
    assert [e["event"] for e in audit] == ["decide"]
