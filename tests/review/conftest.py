"""Real review servers: `withyou serve` on 127.0.0.1 with the tiny bundle, the review sink on a real SQLite file,
and two reviewers (alice with a plain key, bob with a stored SHA-256). Every classified post goes to review
(thresholds 0 / 1), and /classify has its own API key, distinct from the reviewers' keys.

`postgres` is one real PostgreSQL server for the session (tests/review/postgres.py); `postgres_url`
a fresh database on it per test. They skip only where initdb / pg_ctl are not installed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.components import missing_component
from tests.serving.conftest import Server, start_server, stop_server
from tests.review.postgres import PostgresServer, postgres_bin_dir

ALICE_KEY = "alice-review-key-0123456789"
BOB_KEY = "bob-review-key-0123456789"
CLASSIFY_KEY = "classify-key-0123456789"
SINK = "review.sink:create_sink"
KEYS = {"alice": ALICE_KEY, "bob": BOB_KEY}


def write_reviewers(directory: Path) -> Path:
    path = directory / "reviewers.json"
    entries = {"alice": ALICE_KEY, "bob": "sha256:" + hashlib.sha256(BOB_KEY.encode()).hexdigest()}
    path.write_text(json.dumps(entries), encoding="utf-8")
    return path


@dataclass
class ReviewServer:
    server: Server
    db: Path
    directory: Path

    @property
    def url(self) -> str:
        return self.server.url

    def api(self, method: str, path: str, reviewer: str | None = "alice", **kwargs) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if reviewer:
            headers["X-Review-Key"] = KEYS[reviewer]
        return httpx.request(method, f"{self.url}/review/api{path}", headers=headers, timeout=30, **kwargs)

    def classify(self, items: list[dict]) -> list[dict]:
        response = self.server.classify(items, headers={"X-API-Key": CLASSIFY_KEY})
        assert response.status_code == 200, response.text
        return response.json()

    def queued(self, external_id: str, timeout_s: float = 20.0) -> dict:
        """The queue item of one classified post, waiting for the asynchronous hand-off."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            response = self.api("GET", "/queue", params={"external_id": external_id, "status": "pending,claimed,decided,escalated"})
            if response.status_code == 200 and response.json()["items"]:
                return response.json()["items"][0]
            time.sleep(0.1)
        raise AssertionError(f"item {external_id} never reached the review queue:\n{self.server.log_text()[-2000:]}")

    def enqueue(self, external_id: str, text: str, parent_text: str | None = None) -> dict:
        self.classify([{"id": external_id, "text": text, "parent_text": parent_text}])
        return self.queued(external_id)


def start_review_server(bundle: Path, directory: Path, db: Path, **env: str) -> ReviewServer:
    directory.mkdir(parents=True, exist_ok=True)
    key_file = directory / "classify_key"
    key_file.write_text(CLASSIFY_KEY, encoding="utf-8")
    server = start_server(
        bundle,
        directory / f"server-{time.monotonic_ns()}.log",
        "--api-key-file", str(key_file),
        "--review-threshold", "0.0",
        "--hide-threshold", "1.0",
        "--review-sink", SINK,
        env={"WITHYOU_REVIEW_DB": str(db), "WITHYOU_REVIEW_REVIEWERS_FILE": str(write_reviewers(directory)),
             "WITHYOU_REVIEW_BREAK_AFTER": "0", **env},  # many tests share alice: no break prompt in their way
    )  # fmt: skip
    return ReviewServer(server, db, directory)


@pytest.fixture(scope="session")
def review_server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewServer]:
    directory = tmp_path_factory.mktemp("review_server")
    running = start_review_server(tiny_bundle, directory, directory / "review.db")
    yield running
    stop_server(running.server)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        missing_component("PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin); "
                          "scripts/setup-postgres.sh installs it")  # fmt: skip
    server = PostgresServer(bin_dir).init()
    yield server
    server.stop()


_databases = itertools.count()


@pytest.fixture
def postgres_url(postgres: PostgresServer) -> Iterator[str]:
    from review.database import engine_for

    url = postgres.create_database(f"review_{next(_databases)}")
    yield url
    engine_for(url).dispose()  # engines are cached per URL: close this test's pooled connections
