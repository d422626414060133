"""Issue 22: a /classify request that BentoML's request timeout cuts off is counted and logged as the 504 BentoML
answers, not as a 500. Runs the middlewares in-process under BentoML's own TimeoutMiddleware."""

from __future__ import annotations

import asyncio
import json
import logging
from types import SimpleNamespace

from bentoml._internal.server.http.traffic import TimeoutMiddleware
from prometheus_client import REGISTRY
from starlette.routing import Route

from serving.guard import RequestGuard
from serving.metrics import HTTPMetrics
from serving.scheduler import Admission

BODY = json.dumps({"items": [{"text": "a post"}]}).encode()


async def never_answers(scope, receive, send) -> None:
    await asyncio.sleep(60)


def run_until_timeout(app) -> list[dict]:
    """POST /classify through BentoML's TimeoutMiddleware (0.1 s) around `app`; the messages sent back."""
    scope = {
        "type": "http", "method": "POST", "path": "/classify", "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())],
        "app": SimpleNamespace(routes=[Route("/classify", never_answers, methods=["POST"])]),
    }  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    async def request() -> None:
        await TimeoutMiddleware(app, timeout=0.1)(scope, receive, send)
        await asyncio.sleep(0.05)  # the cancelled request finishes its bookkeeping

    asyncio.run(request())
    return sent


def guard(app) -> RequestGuard:
    return RequestGuard(
        app, path="/classify", api_key=None, max_body_bytes=1 << 20, body_idle_timeout_s=5, admission=Admission(100, 1e6)
    )


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_timed_out_classify_request_is_counted_and_logged_as_504_timeout(caplog):
    before = (sample("withyou_requests_total", status="504"), sample("withyou_errors_total", reason="timeout"))
    internal = sample("withyou_errors_total", reason="internal")

    with caplog.at_level(logging.INFO, logger="withyou.serving"):
        sent = run_until_timeout(guard(never_answers))

    assert sent[0]["status"] == 504  # BentoML's answer
    assert sample("withyou_requests_total", status="504") == before[0] + 1
    assert sample("withyou_errors_total", reason="timeout") == before[1] + 1
    assert sample("withyou_errors_total", reason="internal") == internal
    assert "/classify answered 504 (timeout)" in caplog.text


def test_a_timed_out_request_is_counted_as_504_by_route():
    before = sample("withyou_http_requests_total", route="/classify", status="504")

    run_until_timeout(HTTPMetrics(guard(never_answers)))

    assert sample("withyou_http_requests_total", route="/classify", status="504") == before + 1
    assert sample("withyou_http_requests_total", route="/classify", status="500") == 0
