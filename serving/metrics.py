"""WithYou's Prometheus metrics, and the /metrics endpoint that serves them (`HTTPMetrics`).

prometheus_client is imported on first use, never at module import: BentoML sets PROMETHEUS_MULTIPROC_DIR in
each worker during start-up, and a client imported before that would count in a registry /metrics never reads.

    withyou_http_requests_total{route,status}      every HTTP request, by route template and HTTP status
    withyou_http_request_duration_seconds{route}   every HTTP request's latency, first to last byte
    withyou_requests_total{status}                 /classify requests by HTTP status
    withyou_request_duration_seconds               /classify latency, middleware to last byte
    withyou_errors_total{reason}                   rejected or failed /classify requests, by reason
    withyou_items_total{label,action}              classified items
    withyou_model_batch_size                       items per model call made by the scheduler
    withyou_review_candidates_total{outcome}       review hook: queued / delivered / dropped / failed
    withyou_thread_replies_total{outcome}          replies in a thread handed to the sink only to be counted
                                                   (pile-on detection): queued / delivered / dropped / failed
    withyou_review_events_total{event}             what the review sink reported (serving.hooks.SINK_EVENTS):
                                                   thread_under_attack (a thread this worker found under a
                                                   pile-on, once per thread), repeat_author, webhook_delivered,
                                                   webhook_failed
    withyou_items_by_language_total{lang,supported} classified items by detected language (ISO 639-1, "hi-Latn",
                                                   "und" when none) and whether the model was trained on it
    withyou_explained_items_total                  items explained (`"explain": true`)

Bounded: every label value comes from a closed set, so no request can grow /metrics. `route` is the template of
the route a request matched (`/classify`, `/healthz`, `/review` for anything under the reviewer mount, …) or
`other`, never the raw path. BentoML's own HTTP series (`bentoml_service_request_*`) label by the raw,
percent-decoded path, in a middleware that runs outside every middleware a service can add, so neither the path
it sees nor its labels can be rewritten: 10,000 requests to random paths grew /metrics from 6 KB to 42 MB, with
escape bytes from the paths in it (benchmarks/metrics_growth.py). The service turns BentoML's metrics off (serving/service.py) and `HTTPMetrics`
serves /metrics and counts HTTP requests in their place.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from starlette.routing import Match

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)
METRICS_PATH = "/metrics"
UNKNOWN_ROUTE = "other"


@dataclass(frozen=True)
class ServingMetrics:
    http_requests: Any
    http_latency: Any
    requests: Any
    latency: Any
    errors: Any
    items: Any
    batch_size: Any
    review_candidates: Any
    thread_replies: Any
    review_events: Any
    languages: Any
    explained: Any
    stages: Any


@cache
def serving_metrics() -> ServingMetrics:
    """The metric objects, created once per process (after BentoML configured prometheus_client)."""
    from prometheus_client import Counter, Histogram

    return ServingMetrics(
        http_requests=Counter("withyou_http_requests", "HTTP requests by route template and status", ["route", "status"]),
        http_latency=Histogram(
            "withyou_http_request_duration_seconds", "HTTP request latency by route template", ["route"],
            buckets=LATENCY_BUCKETS,
        ),  # fmt: skip
        requests=Counter("withyou_requests", "/classify requests by HTTP status", ["status"]),
        latency=Histogram(
            "withyou_request_duration_seconds", "/classify request latency in seconds", buckets=LATENCY_BUCKETS
        ),
        errors=Counter("withyou_errors", "rejected or failed /classify requests by reason", ["reason"]),
        items=Counter("withyou_items", "classified items by label and action", ["label", "action"]),
        batch_size=Histogram("withyou_model_batch_size", "items per adaptive-batched model call", buckets=BATCH_BUCKETS),
        review_candidates=Counter(
            "withyou_review_candidates", "review hook outcomes (queued, delivered, dropped, failed)", ["outcome"]
        ),
        thread_replies=Counter(
            "withyou_thread_replies", "thread replies handed to the review sink to be counted", ["outcome"]
        ),
        review_events=Counter("withyou_review_events", "events the review sink reported", ["event"]),
        languages=Counter(
            "withyou_items_by_language", "classified items by detected language and support", ["lang", "supported"]
        ),
        explained=Counter("withyou_explained_items", "items explained on request"),
        stages=Counter("withyou_items_by_stage", "classified items by the stage that decided them", ["stage"]),
    )


def exposition() -> tuple[bytes, str]:
    """(the Prometheus text of every worker's metrics, its content type)."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

    registry = REGISTRY
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:  # under BentoML: one file per worker, merged at each scrape
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def route_of(scope: Scope) -> str:
    """The template of the first route of the app (Starlette sets scope["app"]) that `scope` matches, path only
    (a wrong method still names the route); `other` when none does."""
    for route in getattr(scope.get("app"), "routes", ()):
        if route.matches(scope)[0] != Match.NONE:
            return route.path
    return UNKNOWN_ROUTE


class HTTPMetrics:
    """ASGI middleware, the outermost of the service's: counts every HTTP request by route template and status,
    and answers GET /metrics itself — 401 without `Authorization: Bearer <token>` when a token is set.

    A request that BentoML's timeout cancels before it answered is counted as the 504 BentoML sends."""

    def __init__(self, app: Callable[..., Awaitable[None]], token: str | None = None) -> None:
        self.app = app
        self.token = token.encode("utf-8") if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_metrics = scope["path"] == METRICS_PATH
        route = METRICS_PATH if is_metrics else route_of(scope)
        started = time.perf_counter()
        status: int | None = None
        recorded = False

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                metrics = serving_metrics()
                metrics.http_requests.labels(route=route, status=str(status or 500)).inc()
                metrics.http_latency.labels(route=route).observe(time.perf_counter() - started)

        async def watching_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                record()  # before the last byte leaves, so a client that scrapes next sees this request
            await send(message)

        try:
            if is_metrics:
                await self.serve_metrics(scope, watching_send)
            else:
                await self.app(scope, receive, watching_send)
        except asyncio.CancelledError:
            status = status or 504
            raise
        finally:
            record()

    async def serve_metrics(self, scope: Scope, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await respond(send, 405, b'{"error": "/metrics takes GET"}', "application/json", [(b"allow", b"GET, HEAD")])
        elif self.token is not None and not self.token_matches(dict(scope["headers"])):
            body = b'{"error": "missing or wrong metrics token: send \'Authorization: Bearer <token>\'"}'
            await respond(send, 401, body, "application/json", [(b"www-authenticate", b"Bearer")])
        else:
            body, content_type = await asyncio.to_thread(exposition)
            await respond(send, 200, body, content_type)  # uvicorn sends no body to a HEAD

    def token_matches(self, headers: dict[bytes, bytes]) -> bool:
        assert self.token is not None
        scheme, _, offered = headers.get(b"authorization", b"").partition(b" ")
        return scheme.lower() == b"bearer" and hmac.compare_digest(offered.strip(), self.token)


async def respond(
    send: Send, status: int, body: bytes, content_type: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    start_headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": start_headers + (headers or [])})
    await send({"type": "http.response.body", "body": body, "more_body": False})
