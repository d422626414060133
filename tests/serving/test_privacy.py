"""No post text in any log stream (issue 13): a marker goes through every route and error path of a real server,
then every file the server wrote — stdout/stderr and BentoML's home — is searched for it.

The server: the tiny bundle, the review API/UI mounted on it, admission bound 1 (429s), a 64 KiB body cap
(413s), a 1 s body timeout (408s), and a fault that makes the model raise on RAISE-500 texts (500s).
"""

from __future__ import annotations

import json
import os
import socket
import threading
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.serving.conftest import stop_server
from tests.review.conftest import CLASSIFY_KEY, start_review_server

MARKER = "zebra7marker"
FAULTS = Path(__file__).parent / "faults"
JSON = {"content-type": "application/json", "x-api-key": CLASSIFY_KEY}


def secret(kind: str) -> str:
    return f"{MARKER} {kind}: he followed me home"


@pytest.fixture(scope="module")
def hostile(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("hostile")
    python_path = os.pathsep.join(filter(None, [str(FAULTS), os.environ.get("PYTHONPATH")]))
    running = start_review_server(
        tiny_bundle, directory, directory / "review.db",
        WITHYOU_MAX_QUEUED_ITEMS="1", WITHYOU_MAX_BODY_BYTES="65536", WITHYOU_BODY_IDLE_TIMEOUT_S="1",
        PYTHONPATH=python_path,
    )  # fmt: skip
    yield running
    stop_server(running.server)


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> int:
    return httpx.post(f"{url}/classify", content=body, headers=headers or JSON, timeout=60).status_code


def send_incomplete_body(url: str) -> str:
    parts = urlsplit(url)
    body = json.dumps({"items": [{"text": secret("incomplete")}]}).encode()
    head = (
        f"POST /classify HTTP/1.1\r\nHost: {parts.netloc}\r\nContent-Type: application/json\r\n"
        f"X-API-Key: {CLASSIFY_KEY}\r\nContent-Length: {len(body) + 500}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=20) as sock:
        sock.sendall(head + body)
        return sock.recv(65536).decode("utf-8", "replace")


def overload(url: str) -> list[int]:
    """Eight concurrent 32-item requests against an admission bound of 1 item: all but the first get 429."""
    body = json.dumps({"items": [{"text": secret(f"busy {n}") * 20} for n in range(32)]}).encode()
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda: statuses.append(post(url, body))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def classify_paths(url: str) -> dict[str, object]:
    """Each /classify path with the marker in it → the status it got."""
    item = lambda kind: {"text": secret(kind), "parent_text": secret(kind + " parent")}  # noqa: E731
    return {
        "200": post(url, json.dumps({"items": [item("ok")]}).encode()),
        "400 wrong type": post(url, json.dumps({"items": [{"text": [secret("list")]}]}).encode()),
        "400 malformed json": post(url, ('{"items": [{"text": "' + secret("malformed")).encode()),
        "400 unknown field": post(url, json.dumps({"items": [item("extra")], secret("field"): 1}).encode()),
        "400 too long": post(url, json.dumps({"items": [{"text": secret("long") + "x" * 5000}]}).encode()),
        "400 not utf-8": post(url, ('{"items": [{"text": "' + secret("latin") + '\xe9"}]}').encode("latin-1")),
        "401": post(url, json.dumps({"items": [item("nokey")]}).encode(), {"content-type": "application/json"}),
        "405": httpx.get(f"{url}/classify", params={"text": secret("get")}, timeout=30).status_code,
        "413": post(url, json.dumps({"items": [item("big")] * 1000}).encode()),
        "415 type": post(url, secret("plain").encode(), {"content-type": "text/plain", "x-api-key": CLASSIFY_KEY}),
        "415 gzip": post(url, json.dumps({"items": [item("gz")]}).encode(), {**JSON, "content-encoding": "gzip"}),
        "408": send_incomplete_body(url).split(" ")[1],
        "429": sorted(set(overload(url))),
        "500": post(url, json.dumps({"items": [{"text": secret("RAISE-500")}]}).encode()),
    }


def review_paths(hostile) -> dict[str, object]:
    item = hostile.enqueue("privacy-probe", secret("review"), secret("review parent"))
    alice = {"X-Review-Key": "alice-review-key-0123456789"}
    return {
        "review api item": hostile.api("GET", f"/items/{item['id']}").status_code,
        "review ui page": httpx.get(f"{hostile.url}/review/items/{item['id']}", headers=alice, timeout=30).status_code,
        "review ui queue": httpx.get(f"{hostile.url}/review/", headers=alice, timeout=30).status_code,
        "review bad body": hostile.api("POST", f"/items/{item['id']}/decide", content=secret("body").encode(),
                                       headers={"content-type": "application/json"}).status_code,  # fmt: skip
        "review note": hostile.api("POST", f"/items/{item['id']}/decide",
                                   json={"decision": "harassing", "note": secret("note")}).status_code,  # fmt: skip
        "review huge id": hostile.api("GET", f"/items/{2**64}", params={"q": secret("query")}).status_code,
    }


def test_no_post_text_in_any_log_on_any_path(hostile, tmp_path):
    statuses = {**classify_paths(hostile.url), **review_paths(hostile)}
    stop_server(hostile.server)  # flush and close every stream before reading them

    assert statuses["200"] == 200 and statuses["500"] == 500, statuses
    assert [statuses[k] for k in ("401", "405", "413", "415 type", "415 gzip")] == [401, 405, 413, 415, 415]
    assert statuses["408"] == "408" and 429 in statuses["429"], statuses
    assert all(statuses[k] == 400 for k in statuses if k.startswith("400")), statuses
    assert statuses["review ui page"] == 200 and statuses["review note"] == 200, statuses
    written = [hostile.server.log_path, *Path(hostile.server.log_path).parent.rglob("*.log")]
    home = Path(os.environ.get("TMPDIR", "/tmp")) / f"withyou-bentoml-{urlsplit(hostile.url).port}"
    written += [path for path in home.rglob("*") if path.is_file()]
    leaks = [str(path) for path in written if MARKER.encode() in path.read_bytes()]
    assert not leaks, f"post text in {leaks}:\n{hostile.server.log_text()[-3000:]}"
    assert "Exception on /classify" in hostile.server.log_text()  # the 500 was logged, without the text
