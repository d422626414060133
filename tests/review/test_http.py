"""Issue 22: the reviewer app's answers agree with HTTP and with its own spec — 405 + Allow for a known path asked
with another method, 404 for an unknown one, 400 (documented, never 422) for bad input."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from review.app import build_app
from review.config import ReviewSettings
from review.security import SECURITY_HEADERS
from tests.review.conftest import ALICE_KEY, write_reviewers

AUTH = {"X-Review-Key": ALICE_KEY}


@pytest.fixture
def app(tmp_path):
    return build_app(ReviewSettings(db=str(tmp_path / "review.db"), reviewers_file=write_reviewers(tmp_path)))


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/api/queue", "GET"),
        ("DELETE", "/api/items/1/decide", "POST"),
        ("TRACE", "/items/1", "GET"),  # an HTML route
        ("PUT", "/", "GET"),
    ],
)
def test_a_known_path_asked_with_another_method_is_a_405_listing_the_methods_it_takes(app, method, path, allow):
    response = TestClient(app).request(method, path, headers=AUTH)

    assert response.status_code == 405
    assert response.headers["allow"] == allow
    assert all(response.headers[name.decode()] == value.decode() for name, value in SECURITY_HEADERS)


@pytest.mark.parametrize("method", ["GET", "PUT", "TRACE"])
def test_an_unknown_path_is_a_404_whatever_the_method(app, method):
    response = TestClient(app).request(method, "/api/nothing-here", headers=AUTH)

    assert response.status_code == 404
    assert "allow" not in response.headers


def test_the_spec_documents_400_for_bad_input_and_no_422(app):
    operations = [(path, operation) for path, item in app.openapi()["paths"].items() for operation in item.values()]
    answer = TestClient(app).get("/api/queue?limit=0", headers=AUTH)

    assert operations
    assert [path for path, operation in operations if "422" in operation["responses"]] == []
    assert [path for path, operation in operations if "400" not in operation["responses"]] == []
    assert answer.status_code == 400 and "limit" in answer.json()["error"]
