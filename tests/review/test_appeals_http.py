"""Appeals and service levels over HTTP on a real `withyou serve` (issue 21 items 5 and 6): filing and deciding an
appeal through /review/api, the original decider refused with 403, clear 4xx answers for bad input, the statement
absent from the server's log whatever path it took, and the service levels and appeal rates in /review/api/status
and in the service's /metrics."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import httpx
import pytest

from review.appeals import MAX_STATEMENT_CHARS
from review.models import utc_now
from review.store import ReviewStore
from tests.review.conftest import ReviewServer, start_review_server
from tests.review.helpers import DISCLOSURE_PARENT, FakeClock, candidate
from tests.serving.conftest import stop_server

MARK = "APPEAL-STATEMENT-91c2"  # in every statement sent here; the log scan looks for it


def hidden(review_server: ReviewServer, external_id: str) -> int:
    """A post classified by the server and decided harassing by alice."""
    item_id = review_server.enqueue(external_id, "nobody believes a word you say")["id"]
    decided = review_server.api("POST", f"/items/{item_id}/decide", json={"decision": "harassing"}, reviewer="alice")
    assert decided.status_code == 200, decided.text
    return item_id


def test_an_appeal_is_filed_then_refused_to_its_decider_and_decided_by_another(review_server):
    item_id = hidden(review_server, "http-appeal-1")

    filed = review_server.api("POST", "/appeals", json={"external_id": "http-appeal-1", "statement": f"{MARK} context"})
    appeal_id = filed.json()["id"]
    by_alice = review_server.api("POST", f"/appeals/{appeal_id}/decide", json={"outcome": "upheld"}, reviewer="alice")
    by_bob = review_server.api("POST", f"/appeals/{appeal_id}/decide", reviewer="bob",
                               json={"outcome": "overturned", "label": "supportive", "note": "counter-speech"})  # fmt: skip
    listed = review_server.api("GET", "/appeals", params={"status": "decided"}).json()

    assert filed.status_code == 201 and filed.json()["original"]["id"] == item_id
    assert by_alice.status_code == 403
    assert by_alice.json()["error"] == (f"you (alice) made the decision under appeal (item {item_id}); another "
                                        f"reviewer must decide appeal {appeal_id}")  # fmt: skip
    assert by_bob.status_code == 200 and (by_bob.json()["outcome"], by_bob.json()["label"]) == ("overturned", "supportive")
    assert appeal_id in [a["id"] for a in listed["appeals"]]
    assert listed["rates"]["by_label"]["harassing"]["overturned"] >= 1


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("POST", "/appeals", {"external_id": "http-no-such-post", "statement": MARK}, 404, "no reviewed post has the id"),
        ("POST", "/appeals", {"external_id": "x", "statement": MARK * 200}, 400,
         f"statement: String should have at most {MAX_STATEMENT_CHARS} characters"),
        ("POST", "/appeals", {"external_id": "x"}, 400, "statement: Field required"),
        ("POST", "/appeals", {"external_id": "x", "statement": MARK, "author_id": "a"}, 400, "author_id: Extra inputs"),
        ("POST", "/appeals/1/decide", {"outcome": "maybe"}, 400, "outcome: Input should be 'upheld' or 'overturned'"),
        ("GET", "/appeals?status=closed", None, 400, "status must be a comma-separated list"),
        ("GET", f"/appeals/{2**63}", None, 404, "no review item"),
    ],
)  # fmt: skip
def test_bad_appeal_requests_are_clear_4xx_that_never_quote_the_statement(review_server, method, path, body, status,
                                                                          message):  # fmt: skip
    response = review_server.api(method, path, json=body)

    assert response.status_code == status, response.text
    assert message in response.json()["error"] and MARK not in response.text


def test_an_appeal_of_a_post_never_decided_or_already_appealed_is_a_409(review_server):
    review_server.enqueue("http-appeal-open", "you made it all up")
    hidden(review_server, "http-appeal-twice")
    first = review_server.api("POST", "/appeals", json={"external_id": "http-appeal-twice", "statement": MARK})

    undecided = review_server.api("POST", "/appeals", json={"external_id": "http-appeal-open", "statement": MARK})
    twice = review_server.api("POST", "/appeals", json={"external_id": "http-appeal-twice", "statement": MARK})
    via_queue = review_server.api("POST", f"/items/{first.json()['id']}/decide", json={"decision": "neutral"}, reviewer="bob")

    assert undecided.status_code == 409 and "no reviewer decision yet" in undecided.json()["error"]
    assert twice.status_code == 409 and "already appealed" in twice.json()["error"]
    assert via_queue.status_code == 409 and "is an appeal" in via_queue.json()["error"]


def test_the_statement_never_reaches_the_server_log(review_server):
    hidden(review_server, "http-appeal-log")
    log_before = len(review_server.server.log_text())
    statement = f"{MARK} he sent me this, I only quoted it"
    sent = [
        review_server.api("POST", "/appeals", json={"external_id": "http-appeal-log", "statement": statement}),
        review_server.api("POST", "/appeals", json={"external_id": "http-appeal-log", "statement": statement}),  # 409
        review_server.api("POST", "/appeals", json={"external_id": "http-none", "statement": statement}),  # 404
        review_server.api("POST", "/appeals", json={"external_id": "x", "statement": statement * 100}),  # 400
        review_server.api("POST", "/appeals", content=f'{{"external_id": "x", "statement": "{statement}',
                          headers={"content-type": "application/json"}),  # malformed JSON: 400
    ]  # fmt: skip
    appeal_id = sent[0].json()["id"]
    page = httpx.get(f"{review_server.url}/review/appeals/{appeal_id}", auth=("bob", "bob-review-key-0123456789"))
    review_server.api("POST", f"/appeals/{appeal_id}/decide", json={"outcome": "upheld"}, reviewer="alice")  # 403
    review_server.api("POST", f"/appeals/{appeal_id}/decide", json={"outcome": "upheld"}, reviewer="bob")
    time.sleep(0.5)  # let the server flush its log

    assert [r.status_code for r in sent] == [201, 409, 404, 400, 400]
    assert page.status_code == 200 and MARK in page.text  # the reviewer reads it ...
    log = review_server.server.log_text()[log_before:]
    assert "/review/api/appeals" in log, "the scan must see the requests' own log lines"
    assert MARK not in log and "he sent me this" not in log  # ... the log never does


def test_status_reports_service_levels_and_appeal_rates(review_server):
    report = review_server.api("GET", "/status").json()

    assert set(report["service_levels"]) == {"thread", "disclosure_reply", "post", "appeal"}
    assert report["service_levels"]["post"]["sla_minutes"] == 1440
    assert set(report["appeals"]["by_label"]["harassing"]) == {
        "decided", "appealed", "appeals_decided", "overturned", "appeal_rate", "overturn_rate"}  # fmt: skip


def gauge(text: str, name: str, label: str) -> float:
    found = re.search(rf'^{name}\{{[^}}]*="{label}"[^}}]*\}} (\S+)$', text, flags=re.MULTILINE)
    assert found, f"{name}{{{label}}} is not in /metrics"
    return float(found.group(1))


def test_metrics_carry_breaches_oldest_item_and_appeal_rates(tiny_bundle, tmp_path):
    db = tmp_path / "review.db"
    three_hours_ago = FakeClock(utc_now() - timedelta(hours=3))
    store = ReviewStore(f"sqlite:///{db}", clock=three_hours_ago)  # the items waited three hours: no sleeping
    store.enqueue(candidate("late-disclosure-reply", 0.4, parent_text="d"), DISCLOSURE_PARENT)
    store.enqueue(candidate("post-within-a-day", 0.4))
    for n, outcome in enumerate(("overturned", "upheld", "upheld", None)):
        store.decide(store.enqueue(candidate(f"hidden-{n}", 0.95)), "alice", "harassing")
        if outcome:
            appeal = store.open_appeal(f"hidden-{n}", MARK)
            store.decide_appeal(appeal["id"], "bob", outcome, "neutral" if outcome == "overturned" else None)
    running = start_review_server(tiny_bundle, tmp_path / "server", db, WITHYOU_REVIEW_METRICS_REFRESH_S="0.5",
                                  WITHYOU_REVIEW_THREAD_STATUS_REFRESH_S="0.5")  # fmt: skip
    try:
        deadline, text = time.monotonic() + 30, ""
        while "withyou_review_sla_breaches" not in text and time.monotonic() < deadline:
            time.sleep(0.3)
            text = httpx.get(f"{running.url}/metrics", timeout=30).text
        status = running.api("GET", "/status").json()
    finally:
        stop_server(running.server)

    assert gauge(text, "withyou_review_sla_breaches", "disclosure_reply") == 1
    assert gauge(text, "withyou_review_sla_breaches", "post") == 0
    assert gauge(text, "withyou_review_open_items", "post") == 1
    assert 3 * 3600 - 60 < gauge(text, "withyou_review_oldest_open_seconds", "disclosure_reply") < 3 * 3600 + 120
    assert gauge(text, "withyou_review_sla_seconds", "thread") == 30 * 60
    assert gauge(text, "withyou_review_appeal_rate", "harassing") == 0.75  # 3 appeals of 4 hidden posts
    assert gauge(text, "withyou_review_overturn_rate", "harassing") == pytest.approx(1 / 3)
    assert gauge(text, "withyou_review_appeals", "decided") == 3
    assert status["service_levels"]["disclosure_reply"]["breached"] == 1
    assert status["appeals"]["by_label"]["harassing"]["appeal_rate"] == 0.75


def test_an_appeals_item_page_leads_to_its_appeal_page(review_server):
    hidden(review_server, "http-appeal-item-page")
    appeal_id = review_server.api("POST", "/appeals", json={"external_id": "http-appeal-item-page", "statement": MARK}).json()["id"]

    response = httpx.get(f"{review_server.url}/review/items/{appeal_id}", auth=("bob", "bob-review-key-0123456789"))

    assert response.status_code == 303 and response.headers["location"] == f"/review/appeals/{appeal_id}"
