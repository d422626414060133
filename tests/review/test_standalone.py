"""`withyou review serve`: the reviewer app alone under uvicorn, on one keep-alive connection.

Issue 13, defect 6: a request that made the app fail (then: any id ≥ 2^63) was answered and the exception went on
to uvicorn, which closed the connection, so the client's next request on it was reset.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest

from serving.process import free_port, start_process, stop_process
from review.security import SECURITY_HEADERS
from tests.serving.conftest import withyou_command
from tests.review.conftest import ALICE_KEY, write_reviewers


@pytest.fixture(scope="module")
def review_only(tmp_path_factory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("review_only")
    port = free_port()
    command = [*withyou_command(), "review", "serve", "--port", str(port), "--db", str(directory / "review.db"),
               "--reviewers-file", str(write_reviewers(directory))]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if not key.startswith("WITHYOU_")}
    url = f"http://127.0.0.1:{port}"
    process = start_process(command, url, env, directory / "server.log", timeout_s=60)
    yield url
    stop_process(process)


def test_a_bad_id_does_not_break_the_keep_alive_connection(review_only):
    def local_address(response: httpx.Response) -> tuple:
        return response.extensions["network_stream"].get_extra_info("client_addr")

    with httpx.Client(base_url=f"{review_only}/review/api", headers={"X-Review-Key": ALICE_KEY}, timeout=10) as client:
        bad = client.get(f"/items/{2**63}")
        addresses = [local_address(bad)]
        following = []
        for _ in range(3):
            following.append(client.get("/counts"))
            addresses.append(local_address(following[-1]))

    assert bad.status_code == 404 and bad.json()["error"].startswith(f"no review item {2**63}")
    assert bad.headers["content-security-policy"].startswith("default-src 'self'")
    assert [r.status_code for r in following] == [200, 200, 200]
    assert len(set(addresses)) == 1, "the server closed the connection after the error"


def test_the_redirect_to_the_review_ui_carries_the_security_headers(review_only):
    response = httpx.get(f"{review_only}/review", timeout=10)

    assert response.status_code == 307 and response.headers["location"].endswith("/review/")
    assert all(response.headers[name.decode()] == value.decode() for name, value in SECURITY_HEADERS)
