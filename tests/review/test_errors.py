"""Defect 6 of issue 13: ids and offsets past 64 bits, and the last-resort 500, on every reviewer route.

Before the fix each request below answered a text/plain 500 without the security headers (SQLite cannot bind
2^63) and `withyou review serve` then dropped the keep-alive connection. Now an id no database can hold is a 404
naming it, an offset past the limit a 400, and an unexpected exception a JSON / HTML 500 with the headers, no
detail and nothing of the post in the answer or the log.
"""

from __future__ import annotations

import logging

import pytest
from starlette.testclient import TestClient

from review.app import build_app
from review.config import ReviewSettings
from review.security import SECURITY_HEADERS
from review.store import ReviewStore
from tests.review.conftest import ALICE_KEY, write_reviewers
from tests.review.helpers import candidate

MAX_ID = 2**63 - 1  # the largest 64-bit id (review/store.py MAX_ID)
TOO_BIG = MAX_ID + 1
AUTH = {"X-Review-Key": ALICE_KEY}

# (method, path, request options, status, what the answer must say); 2^63 is one past the largest 64-bit id.
ROUTES = [
    ("GET", f"/api/items/{TOO_BIG}", {}, 404, f"no review item {TOO_BIG}"),
    ("POST", f"/api/items/{TOO_BIG}/claim", {}, 404, f"no review item {TOO_BIG}"),
    ("POST", f"/api/items/{TOO_BIG}/decide", {"json": {"decision": "neutral"}}, 404, f"no review item {TOO_BIG}"),
    ("POST", f"/api/items/{TOO_BIG}/undo", {}, 404, f"no review item {TOO_BIG}"),
    ("GET", f"/api/items/{TOO_BIG}/audit", {}, 404, f"no review item {TOO_BIG}"),
    ("GET", f"/api/queue?offset={TOO_BIG}", {}, 400, f"offset: Input should be less than or equal to {MAX_ID}"),
    ("POST", "/api/undo", {"json": {"item_id": TOO_BIG}}, 404, f"no review item {TOO_BIG}"),
    ("GET", f"/items/{TOO_BIG}", {}, 404, f"no review item {TOO_BIG}"),
    ("POST", f"/items/{TOO_BIG}/decide", {"data": {"decision": "neutral"}}, 404, f"no review item {TOO_BIG}"),
    ("GET", f"/?offset={TOO_BIG}", {}, 400, f"offset must be between 0 and {MAX_ID}"),
    ("GET", f"/api/items/{2**200}", {}, 404, "(61 digits)"),
    ("GET", "/api/items/-1", {}, 404, "no review item -1"),
]


@pytest.fixture
def settings(tmp_path) -> ReviewSettings:
    return ReviewSettings(db=str(tmp_path / "review.db"), reviewers_file=write_reviewers(tmp_path))


@pytest.fixture
def client(settings) -> TestClient:
    app = build_app(settings)
    app.state.store.enqueue(candidate("real", 0.9, text="zqxj-post-text"))
    return TestClient(app)  # raises any exception the app lets out, as a server would see it


def assert_safe_error(response, status: int) -> None:
    assert response.status_code == status, response.text
    for name, value in SECURITY_HEADERS:
        assert response.headers[name.decode()] == value.decode()
    json_route = response.request.url.path.startswith("/api")
    assert response.headers["content-type"].startswith("application/json" if json_route else "text/html")
    assert "zqxj" not in response.text


@pytest.mark.parametrize(("method", "path", "options", "status", "says"), ROUTES, ids=[f"{m} {p}" for m, p, *_ in ROUTES])
def test_ids_and_offsets_past_64_bits_are_a_clear_4xx_with_the_security_headers(client, method, path, options, status, says):
    response = client.request(method, path, headers=AUTH, **options)

    assert_safe_error(response, status)
    assert says in response.text


def test_the_largest_id_is_an_ordinary_unknown_item(client):
    response = client.get(f"/api/items/{MAX_ID}", headers=AUTH)

    assert_safe_error(response, 404)
    assert response.json() == {"error": f"no review item {MAX_ID}"}


class ExplodingStore(ReviewStore):
    """A store whose reads fail the way a bug would, with post text in the exception message."""

    def item(self, item_id: int) -> dict:
        raise RuntimeError("zqxj-post-text leaked through an exception message")

    queue = item


@pytest.mark.parametrize(("path", "media"), [("/api/items/1", "application/json"), ("/items/1", "text/html")])
def test_an_unexpected_exception_is_a_500_with_the_headers_and_no_detail(settings, caplog, path, media):
    store = ExplodingStore(settings.database_url())
    client = TestClient(build_app(settings, store=store))

    with caplog.at_level(logging.ERROR, logger="withyou.review"):
        response = client.get(path, headers=AUTH)

    assert_safe_error(response, 500)
    assert response.headers["content-type"].startswith(media)
    assert "internal error in the review service" in response.text
    assert "review request GET" in caplog.text and "RuntimeError" in caplog.text
    assert "zqxj" not in caplog.text
