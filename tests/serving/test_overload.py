"""Overload is a quick 429 with Retry-After, never a 503 after half a minute (issue 13, defect 7).

The server admits at most 1 queued item per worker (`--max-queued-items 1`), so while one request is being
scored every other request is over the bound; an idle worker still admits any request within the limits.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.serving.conftest import start_server, stop_server

BUSY = json.dumps({"items": [{"text": "a long post about the office party " * 40} for _ in range(64)]}).encode()


@pytest.fixture(scope="module")
def strict_server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    running = start_server(tiny_bundle, tmp_path_factory.mktemp("strict") / "server.log", "--max-queued-items", "1")
    yield running
    stop_server(running)


def concurrent_posts(url: str, count: int) -> list[tuple[httpx.Response, float]]:
    answers: list[tuple[httpx.Response, float]] = []

    def send() -> None:
        started = time.monotonic()
        response = httpx.post(f"{url}/classify", content=BUSY, headers={"content-type": "application/json"}, timeout=120)
        answers.append((response, time.monotonic() - started))

    threads = [threading.Thread(target=send) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_over_the_bound_is_a_quick_429_with_retry_after(strict_server):
    answers = concurrent_posts(strict_server.url, 6)
    statuses = sorted(response.status_code for response, _ in answers)

    assert 200 in statuses and 429 in statuses and set(statuses) <= {200, 429}, statuses
    for response, seconds in answers:
        if response.status_code != 429:
            continue
        retry_ms = int(response.headers["retry-after-ms"])
        assert retry_ms > 0 and response.json()["retry_after_ms"] == retry_ms
        assert int(response.headers["retry-after"]) == -(-retry_ms // 1000)
        assert "busy" in response.json()["error"]
        assert seconds < 5  # refused at the door, not after queueing


def test_an_idle_server_takes_a_request_larger_than_the_bound(strict_server):
    response = httpx.post(f"{strict_server.url}/classify", content=BUSY, headers={"content-type": "application/json"}, timeout=120)

    assert response.status_code == 200 and len(response.json()) == 64
