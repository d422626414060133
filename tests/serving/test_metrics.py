"""Issue 22: /metrics stays small whatever paths clients ask for, labels requests by route template, and answers
only to its token when one is configured (the configured server has one)."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.serving.conftest import API_KEY, METRICS_TOKEN
from tests.serving.test_ops import metric_value, scrape

RANDOM_PATHS = 300


def series(text: str) -> set[str]:
    """The series of a scrape: each sample's name and labels, without its value."""
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if line and not line.startswith("#")}


def random_paths(count: int) -> list[str]:
    """Paths no route knows, under the reviewer mount and outside it, some with escape bytes once decoded."""
    shapes = ["/review/{}", "/{}", "/{}/deeper/{}", "/%1b[2J{}", "/%E2%80%AE{}", "/static_content/{}"]
    return [shapes[i % len(shapes)].format(uuid.uuid4().hex, uuid.uuid4().hex) for i in range(count)]


def get_all(url: str, paths: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=10) as client:
        for path in paths:
            client.get(path)


def test_requests_to_random_paths_add_no_series(server):
    get_all(server.url, random_paths(12))  # the first unknown paths create their routes' series
    scrape(server)  # and the first scrape the /metrics series
    before = scrape(server)

    get_all(server.url, random_paths(RANDOM_PATHS))
    after = scrape(server)

    assert series(after) == series(before)
    assert len(after) < len(before) + 2000  # only counts and sums grew a few digits
    assert "\x1b" not in after and "\u202e" not in after


def test_requests_are_counted_by_route_template(server):
    before = scrape(server)
    server.classify([{"text": "a post"}])
    get_all(server.url, ["/healthz", f"/nothing-{uuid.uuid4().hex}"])
    after = scrape(server)

    for route, status in [("/classify", "200"), ("/healthz", "200"), ("other", "404")]:
        count = metric_value(after, "withyou_http_requests_total", route=route, status=status)
        assert count == metric_value(before, "withyou_http_requests_total", route=route, status=status) + 1
    assert metric_value(after, "withyou_http_request_duration_seconds_count", route="/classify") >= 1


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer not-the-token"}, {"Authorization": f"Bearer {API_KEY}"}, {"X-API-Key": API_KEY}]
)
def test_metrics_refuse_a_missing_or_wrong_token(configured_server, headers):
    response = httpx.get(f"{configured_server.url}/metrics", headers=headers, timeout=10)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert "metrics token" in response.json()["error"]


def test_metrics_answer_to_their_token(configured_server):
    response = httpx.get(f"{configured_server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)

    assert response.status_code == 200
    assert "withyou_http_requests_total" in response.text
