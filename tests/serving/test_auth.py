"""Optional API key: off by default, and when on, /classify needs it while health checks do not."""

from __future__ import annotations

import httpx
import pytest

from tests.serving.conftest import API_KEY, METRICS_TOKEN

ITEMS = [{"id": "auth-1", "text": "thank you for speaking up"}]


def test_default_server_needs_no_key(server):
    assert server.classify(ITEMS).status_code == 200


def test_missing_key_is_a_401_json(configured_server):
    response = configured_server.classify(ITEMS)

    assert response.status_code == 401
    assert "API key" in response.json()["error"]
    assert response.headers["www-authenticate"] == "Bearer"


def test_wrong_key_is_a_401(configured_server):
    response = configured_server.classify(ITEMS, headers={"Authorization": "Bearer not-the-key"})

    assert response.status_code == 401


@pytest.mark.parametrize(
    "headers",
    [{"Authorization": f"Bearer {API_KEY}"}, {"authorization": f"bearer {API_KEY}"}, {"X-API-Key": API_KEY}],
)
def test_right_key_is_accepted(configured_server, headers):
    response = configured_server.classify(ITEMS, headers=headers)

    assert response.status_code == 200
    assert response.json()[0]["id"] == "auth-1"


def test_auth_is_checked_before_the_body(configured_server):
    response = httpx.post(f"{configured_server.url}/classify", content=b"\xff not json", timeout=10)

    assert response.status_code == 401


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_need_no_key(configured_server, path):
    assert httpx.get(f"{configured_server.url}{path}", timeout=10).status_code == 200


def test_metrics_need_no_api_key_only_their_token(configured_server):
    response = httpx.get(f"{configured_server.url}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=10)

    assert response.status_code == 200
