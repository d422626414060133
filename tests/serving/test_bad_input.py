"""Bad input never gets a 5xx: each case is a 4xx with a JSON `error` naming what is wrong."""

from __future__ import annotations

import gzip
import json
import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest

JSON = {"content-type": "application/json"}
MAX_BODY = 16 * 1024 * 1024


def post_raw(server, body: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(f"{server.url}/classify", content=body, headers=headers or JSON, timeout=60)


def assert_rejected(response: httpx.Response, status: int, *phrases: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    for phrase in phrases:
        assert phrase in message, message


@pytest.mark.parametrize(
    ("case", "payload", "phrases"),
    [
        ("empty text", {"items": [{"text": ""}]}, ["items.0.text", "empty or whitespace"]),
        ("whitespace text", {"items": [{"text": " \n\t "}]}, ["items.0.text", "empty or whitespace"]),
        ("number as text", {"items": [{"text": 42}]}, ["items.0.text", "valid string"]),
        ("null text", {"items": [{"text": None}]}, ["items.0.text", "valid string"]),
        ("number as id", {"items": [{"id": 7, "text": "hello"}]}, ["items.0.id", "valid string"]),
        ("items not a list", {"items": "hello"}, ["items", "valid array"]),
        ("items not a list, explain set", {"items": True, "explain": False}, ["items", "valid array"]),
        ("item not an object", {"items": ["hello"]}, ["items.0"]),
        ("missing items", {"posts": []}, ["unknown top-level field", "posts", "items"]),
        ("no fields", {}, ["items", "Field required"]),
        ("missing text", {"items": [{"id": "x"}]}, ["items.0.text", "Field required"]),
        ("misspelt field", {"items": [{"text": "hi", "parent": "x"}]}, ["items.0.parent", "Extra inputs"]),
        ("too many items", {"items": [{"text": "hi"}] * 257}, ["items", "at most 256 items"]),
        ("text too long", {"items": [{"text": "a" * 5001}]}, ["items.0.text", "at most 5000 characters"]),
        ("parent too long", {"items": [{"text": "a", "parent_text": "b" * 5001}]}, ["items.0.parent_text", "5000"]),
        ("array instead of object", [{"text": "hi"}], ["body", "object"]),
    ],
)
def test_invalid_payload_is_a_400_naming_the_field(server, case, payload, phrases):
    assert_rejected(post_raw(server, json.dumps(payload).encode()), 400, "invalid request", *phrases)


def test_validation_error_keeps_the_detail_list(server):
    response = post_raw(server, json.dumps({"items": [{"text": ""}, {"text": 1}]}).encode())

    assert [entry["loc"] for entry in response.json()["detail"]] == [["items", 0, "text"], ["items", 1, "text"]]


def test_malformed_json_is_a_400(server):
    assert_rejected(post_raw(server, b'{"items": [{"text": "hi"'), 400, "Invalid JSON")


def test_deeply_nested_json_is_a_400(server):
    depth = 100_000
    assert post_raw(server, b"[" * depth + b"]" * depth).status_code == 400


def test_empty_body_is_a_400_asking_for_items(server):
    assert_rejected(post_raw(server, b""), 400, "items", "Field required")


def test_non_utf8_body_is_a_400(server):
    assert_rejected(post_raw(server, b'{"items": [{"text": "caf\xe9"}]}'), 400, "not valid UTF-8")


def test_form_content_type_is_a_415(server):
    response = post_raw(server, b"items=x", {"content-type": "application/x-www-form-urlencoded"})

    assert_rejected(response, 415, "application/json")


def test_multipart_upload_is_a_415(server):
    response = httpx.post(f"{server.url}/classify", files={"items": ("a.json", b"{}")}, timeout=30)

    assert_rejected(response, 415, "multipart/form-data")


def test_get_is_a_405(server):
    response = httpx.get(f"{server.url}/classify", timeout=30)

    assert_rejected(response, 405, "POST")
    assert response.headers["allow"] == "POST"


def test_oversized_body_is_a_413(server):
    body = json.dumps({"items": [{"text": "a" * 1000}] * (MAX_BODY // 1000 + 1)}).encode()

    assert_rejected(post_raw(server, body), 413, "larger than", str(MAX_BODY))


def test_oversized_chunked_body_is_a_413(server):
    def chunks():
        for _ in range(MAX_BODY // 65536 + 2):
            yield b" " * 65536

    response = httpx.post(f"{server.url}/classify", content=chunks(), headers=JSON, timeout=60)

    assert "content-length" not in response.request.headers
    assert_rejected(response, 413, "larger than")


def test_declared_content_length_over_the_cap_is_refused_before_the_body(server):
    """The server answers 413 on the headers alone; the client never sends a byte of body."""
    url = urlsplit(server.url)
    request = (
        f"POST /classify HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {MAX_BODY * 4}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):  # the server closes the connection after its answer
            received += chunk
    reply = received.decode("utf-8", "replace")

    assert reply.startswith("HTTP/1.1 413")
    assert "larger than" in reply


def test_server_still_healthy_after_bad_input(server):
    post_raw(server, b"\xff\xfe garbage")
    post_raw(server, b"[[[[[[[[[[")

    assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
    assert server.classify([{"text": "still here"}]).status_code == 200


def test_unknown_top_level_field_is_a_400_naming_it(server):
    response = post_raw(server, json.dumps({"items": [{"text": "hi"}], "extra": 1}).encode())

    assert_rejected(response, 400, "unknown top-level field", "extra")


def test_compressed_body_is_a_415(server):
    body = gzip.compress(json.dumps({"items": [{"text": "hi"}]}).encode())

    assert_rejected(post_raw(server, body, {**JSON, "content-encoding": "gzip"}), 415, "Content-Encoding gzip")


def test_incomplete_body_is_a_408_within_seconds_not_a_5xx(server):
    """Content-Length promises 1,000 bytes, 40 arrive: the server answers 408 after the body timeout (5 s)."""
    url = urlsplit(server.url)
    request = (
        f"POST /classify HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Type: application/json\r\n"
        f"Content-Length: 1000\r\n\r\n" + '{"items": [{"text": "only forty bytes"}'
    ).encode()
    started = time.monotonic()
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(request)
        received = b""
        while b"request body incomplete" not in received and (chunk := sock.recv(65536)):
            received += chunk
    reply = received.decode("utf-8", "replace")

    assert reply.startswith("HTTP/1.1 408"), reply
    assert "request body incomplete" in reply
    assert time.monotonic() - started < 15


def test_every_answer_carries_a_request_id(server):
    assert len(server.classify([{"text": "hello"}]).headers["x-request-id"]) >= 8
    assert post_raw(server, b"{", {**JSON, "x-request-id": "client-id-1"}).headers["x-request-id"] == "client-id-1"
