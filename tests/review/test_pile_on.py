"""The pile-on scenario end to end (issue 21), on a real `withyou serve` with the review store on SQLite and on
PostgreSQL: 50 harassing replies from 5 authors under one disclosure, interleaved with 500 benign replies in 100
other threads, with a server restart after the first four harassing ones. The thread escalates once, the signed
webhook reaches a real local HTTP receiver once, `thread_status` flips for that thread only, the five authors are
flagged as repeat authors, and their raw ids are nowhere in the store's files or the logs.

The bundle is tests/keyword_bundle.py: "liar" makes a post harassing (hidden), anything else is allowed."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from pathlib import Path

import httpx
import pytest

from review.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature
from tests.keyword_bundle import write_keyword_bundle
from tests.review.conftest import ALICE_KEY, write_reviewers
from tests.review.test_threads import Receiver
from tests.serving.conftest import start_server, stop_server

ATTACKED = "disclosure-1"
AUTHOR_KEY = "author-key-for-the-pile-on-test-0123456789"
WEBHOOK_SECRET = "webhook-secret-0123456789"
RAW = "RAWAUTHOR"  # every raw author id starts with it; the scans look for it
ATTACKERS = [f"{RAW}-attacker-{n}" for n in range(5)]
HARASSING = "you are a liar and everyone in this thread knows it, stop telling this story"
BENIGN = "thank you for sharing this with us, I believe you and I hope you are doing okay"
REQUESTS, BENIGN_PER_REQUEST, RESTART_AFTER = 50, 10, 4


def requests() -> list[list[dict]]:
    """Request n: the n-th harassing reply under the disclosure, then ten benign replies in other threads."""
    batches = []
    for n in range(REQUESTS):
        batch = [{"id": f"attack-{n}", "text": HARASSING, "parent_text": "it happened to me at work",
                  "thread_id": ATTACKED, "author_id": ATTACKERS[n % len(ATTACKERS)]}]  # fmt: skip
        for k in range(BENIGN_PER_REQUEST):
            index = n * BENIGN_PER_REQUEST + k
            batch.append({"id": f"benign-{index}", "text": BENIGN, "parent_text": "this happened to me too",
                          "thread_id": f"thread-{index % 100}", "author_id": f"{RAW}-benign-{index % 37}"})  # fmt: skip
        batches.append(batch)
    return batches


def metric(url: str, name: str, label: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    found = re.search(rf'^{name}\{{[^}}]*="{label}"[^}}]*\}} ([0-9.e+]+)$', text, flags=re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def wait_delivered(url: str, replies: int, candidates: int, timeout_s: float = 120.0) -> None:
    """Until the hook's thread has stored every reply and candidate sent to this server."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = (metric(url, "withyou_thread_replies_total", "delivered"),
               metric(url, "withyou_review_candidates_total", "delivered"))  # fmt: skip
        if got == (replies, candidates):
            return
        time.sleep(0.2)
    raise AssertionError(f"delivered {got}, expected {(replies, candidates)}")


def start(bundle: Path, directory: Path, db: str, receiver: Receiver):
    key_file = directory / "classify_key"
    key_file.write_text("classify-key-0123456789", encoding="utf-8")
    env = {
        "WITHYOU_REVIEW_DB": db,
        "WITHYOU_REVIEW_REVIEWERS_FILE": str(write_reviewers(directory)),
        "WITHYOU_REVIEW_AUTHOR_KEY": AUTHOR_KEY,
        "WITHYOU_REVIEW_WEBHOOK_URL": receiver.url,
        "WITHYOU_REVIEW_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "WITHYOU_REVIEW_THREAD_STATUS_REFRESH_S": "0.5",
        "WITHYOU_REVIEW_CLASSIFY_PARENTS": "false",
    }
    log = directory / f"server-{time.monotonic_ns()}.log"
    return start_server(bundle, log, "--api-key-file", str(key_file), "--review-sink", "review.sink:create_sink",
                        env=env)  # fmt: skip


def classify(server, batch: list[dict]) -> list[dict]:
    response = server.classify(batch, headers={"X-API-Key": "classify-key-0123456789"})
    assert response.status_code == 200, response.text
    return response.json()


def files_under(*roots: Path) -> list[Path]:
    return [path for root in roots for path in root.rglob("*") if path.is_file()]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_pile_on_under_a_disclosure_escalates_once_and_keeps_no_raw_author_id(backend, request, tmp_path, capsys):
    bundle = write_keyword_bundle(tmp_path / "bundle")
    directory = tmp_path / "server"
    directory.mkdir()
    if backend == "postgresql":
        db, store_root = request.getfixturevalue("postgres_url"), request.getfixturevalue("postgres").root
    else:
        db, store_root = str(directory / "review.db"), directory
    receiver = Receiver()
    batches, answers, logs = requests(), [], []
    started = time.monotonic()
    server = start(bundle, directory, db, receiver)
    try:
        for n, batch in enumerate(batches):
            if n == RESTART_AFTER:  # the counts so far must survive the restart
                wait_delivered(server.url, RESTART_AFTER * BENIGN_PER_REQUEST, RESTART_AFTER)
                stop_server(server)
                logs.append(server.log_path)
                server = start(bundle, directory, db, receiver)
            answers += classify(server, batch)
        sent_since_restart = REQUESTS - RESTART_AFTER
        wait_delivered(server.url, sent_since_restart * BENIGN_PER_REQUEST, sent_since_restart)
        elapsed = time.monotonic() - started
        later = classify(server, [{"id": "late-reply", "text": BENIGN, "thread_id": ATTACKED}])[0]
        benign_later = classify(server, [{"id": "late-benign", "text": BENIGN, "thread_id": "thread-7"}])[0]
        queue = httpx.get(f"{server.url}/review/api/queue", params={"limit": 500}, timeout=30,
                          headers={"X-Review-Key": ALICE_KEY}).json()["items"]  # fmt: skip
        events = {event: metric(server.url, "withyou_review_events_total", event)
                  for event in ("thread_under_attack", "webhook_delivered", "webhook_failed", "repeat_author")}  # fmt: skip
    finally:
        stop_server(server)
        logs.append(server.log_path)
        receiver.close()
    with capsys.disabled():
        print(f"\npile-on scenario on {backend}: 550 replies in 50 requests, one restart, all stored in {elapsed:.1f} s")

    attack = [a for a in answers if a["id"].startswith("attack-")]
    assert all(a["action"] == "hide" for a in attack)  # the keyword bundle hides every harassing reply
    assert all(a["action"] == "allow" for a in answers if a["id"].startswith("benign-"))
    assert [a["thread_status"] for a in attack[:5]] == [None] * 5  # the fifth tips it: answered before it is counted
    assert later["thread_status"] == "under_attack" and benign_later["thread_status"] is None
    assert not any(a["thread_status"] for a in answers if a["id"].startswith("benign-"))

    [thread_item] = [item for item in queue if item["kind"] == "thread"]
    assert thread_item["thread_id"] == ATTACKED and queue[0]["id"] == thread_item["id"]
    replies = [item for item in queue if item["kind"] == "post"]
    assert len(replies) == REQUESTS and all(item["repeat_author"] for item in replies)

    [(headers, body)] = receiver.received
    assert verify_signature(WEBHOOK_SECRET.encode(), headers[TIMESTAMP_HEADER], body, headers[SIGNATURE_HEADER])
    event = json.loads(body)
    assert (event["event"], event["thread_id"], event["rule"]) == ("thread.under_attack", ATTACKED, "count")
    assert event["review_item_id"] == thread_item["id"]
    assert events == {"thread_under_attack": 1, "webhook_delivered": 1, "webhook_failed": 0, "repeat_author": 5}

    store_files = files_under(store_root)
    hashed = hmac.new(AUTHOR_KEY.encode(), ATTACKERS[0].encode(), hashlib.sha256).hexdigest().encode()
    assert any(hashed in path.read_bytes() for path in store_files)  # the scan reads where the store writes
    for path in store_files + logs:
        assert RAW.encode() not in path.read_bytes(), f"a raw author id is in {path}"
