"""The review hook: items whose action is review/hide reach the configured sink, off the request path."""

from __future__ import annotations

import time

import httpx

from tests.serving.conftest import API_KEY, METRICS_TOKEN, read_sink
from tests.serving.test_ops import metric_value

AUTH = {"X-API-Key": API_KEY}
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def test_threshold_override_sends_every_post_to_review(configured_server):
    results = configured_server.classify([{"text": "lovely weather today"}], headers=AUTH).json()

    assert results[0]["action"] == "review"


def test_review_candidates_reach_the_sink_with_their_context(configured_server):
    items = [
        {"id": "rev-1", "text": "sure you were", "parent_text": "he grabbed me at work"},
        {"id": "rev-2", "text": "pics or it didn't happen"},
    ]
    results = configured_server.classify(items, headers=AUTH).json()

    rows = read_sink(configured_server.sink_path, {"rev-1", "rev-2"})
    assert set(rows) == {"rev-1", "rev-2"}
    assert rows["rev-1"]["parent_text"] == "he grabbed me at work"
    assert rows["rev-1"]["scores"] == results[0]["scores"]
    assert rows["rev-2"]["action"] == "review"
    assert rows["rev-2"]["model_version"] == "tiny-test"


def test_failing_sink_never_fails_classify_and_is_counted(configured_server):
    def failed() -> float:
        text = httpx.get(f"{configured_server.url}/metrics", headers=METRICS_AUTH, timeout=10).text
        return metric_value(text, "withyou_review_candidates_total", outcome="failed")

    before = failed()
    response = configured_server.classify([{"id": "fail-1", "text": "a post the sink will refuse"}], headers=AUTH)

    assert response.status_code == 200
    deadline = time.monotonic() + 10
    while failed() == before and time.monotonic() < deadline:  # the sink runs on a background thread
        time.sleep(0.1)
    assert failed() == before + 1
    assert "review sink failed for item id=fail-1" in configured_server.log_text()
