"""ASGI middleware in front of POST /classify: the checks BentoML does not make, and JSON errors for all of them.

BentoML sets no request-size limit and would answer some bad requests with plain text or a bare pydantic dump.
This guard, in order: method (405), API key when one is configured (401), content type and encoding (415: JSON,
uncompressed), declared Content-Length and then the streamed size (413, the body is never buffered past the
cap), a body that stops arriving (408 after `body_idle_timeout_s`), UTF-8 (400), top-level fields other than
`items` (400; a top-level `"explain": true|false` is first moved onto every item, `spread_explain`), then
admission control (429 with Retry-After, serving/scheduler.py). It rewrites BentoML's 400
validation response so that `error` says which field broke which rule, counts every /classify request, its
latency and its errors (serving/metrics.py), and logs each rejection as one line: status, reason, request id.

Every error body is `{"error": "<what is wrong>", ...}` with a 4xx status. Every response carries
`X-Request-ID` (the client's, when it sent a plain one, else a fresh one), which is also in the log line.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import re
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from serving.metrics import serving_metrics
from serving.scheduler import Admission, Overloaded, Ticket
from withyou.explain import words

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger("withyou.serving")
MAX_LISTED_PROBLEMS = 5
TOP_LEVEL_FIELDS = {"items"}  # after spread_explain has moved a top-level "explain" onto the items
PLAIN_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:-]{1,64}")


class Rejection(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        message: str,
        headers: tuple[tuple[bytes, bytes], ...] = (),
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.status, self.reason, self.message, self.headers = status, reason, message, headers
        self.extra = extra or {}


class ClientGone(Exception):
    """The client disconnected before sending its whole body."""


def request_id_of(headers: dict[bytes, bytes]) -> str:
    offered = headers.get(b"x-request-id", b"")
    return offered.decode("ascii") if PLAIN_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex[:16]


def json_body(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def describe_validation(detail: list[dict[str, Any]]) -> str:
    """pydantic error entries → 'items.0.text: text is empty or whitespace; …'."""
    problems = []
    for entry in detail[:MAX_LISTED_PROBLEMS]:
        where = ".".join(str(part) for part in entry.get("loc", ()) if part != "body") or "body"
        message = str(entry.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}")
    if len(detail) > MAX_LISTED_PROBLEMS:
        problems.append(f"and {len(detail) - MAX_LISTED_PROBLEMS} more")
    return "invalid request: " + "; ".join(problems)


class RequestGuard:
    def __init__(
        self,
        app: Callable[..., Awaitable[None]],
        *,
        path: str,
        api_key: str | None,
        max_body_bytes: int,
        body_idle_timeout_s: float,
        admission: Admission,
    ):
        self.app = app
        self.path = path
        self.api_key = api_key.encode("utf-8") if api_key else None
        self.max_body_bytes = max_body_bytes
        self.body_idle_timeout_s = body_idle_timeout_s
        self.admission = admission

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(dict(scope["headers"]))
        response = ResponseWatcher(send, request_id)
        admitted: Ticket | None = None
        try:
            self.check_headers(scope)
            body = await self.read_body(receive)
            body = spread_explain(body)
            admitted = self.admit(*self.count_work(body), client=client_of(scope))
            await self.app(scope, replay(body, receive), response.send)
        except Rejection as rejection:
            response.status, response.reason = rejection.status, rejection.reason
            response.finish()
            headers = (*rejection.headers, (b"x-request-id", request_id.encode()))
            await send_json(send, rejection.status, json_body({"error": rejection.message, **rejection.extra}), headers)
        except ClientGone:
            response.status, response.reason = 499, "client_disconnected"
        except asyncio.CancelledError:  # BentoML's request timeout (traffic.timeout) cancels us and answers 504
            if response.status is None:
                response.status, response.reason = 504, "timeout"
            raise
        finally:
            self.admission.release(admitted)
            response.finish()

    def check_headers(self, scope: Scope) -> None:
        if scope["method"] != "POST":
            raise Rejection(405, "method", f"{self.path} takes POST, not {scope['method']}", ((b"allow", b"POST"),))
        headers = dict(scope["headers"])
        if self.api_key is not None and not self.key_matches(headers):
            raise Rejection(
                401,
                "auth",
                "missing or wrong API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                ((b"www-authenticate", b"Bearer"),),
            )
        media_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
        if media_type != b"application/json" and not media_type.endswith(b"+json"):
            raise Rejection(415, "content_type", f"Content-Type must be application/json, got {media_type.decode('latin-1')}")
        encoding = headers.get(b"content-encoding", b"identity").strip().lower()
        if encoding not in (b"", b"identity"):
            raise Rejection(
                415,
                "content_encoding",
                f"Content-Encoding {encoding.decode('latin-1')} is not supported: send the JSON body uncompressed",
                ((b"accept-encoding", b"identity"),),
            )
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Rejection(400, "content_length", "Content-Length is not a number")
            if int(declared) > self.max_body_bytes:
                raise self.too_large()

    def key_matches(self, headers: dict[bytes, bytes]) -> bool:
        offered = headers.get(b"x-api-key")
        authorization = headers.get(b"authorization", b"")
        if offered is None and authorization[:7].lower() == b"bearer ":
            offered = authorization[7:].strip()
        return offered is not None and hmac.compare_digest(offered, self.api_key or b"")

    def too_large(self) -> Rejection:
        return Rejection(413, "too_large", f"request body is larger than the {self.max_body_bytes}-byte limit")

    async def read_body(self, receive: Receive) -> bytes:
        """The whole body, refusing it as soon as the streamed bytes pass the cap (chunked uploads included), or
        when no byte has arrived for `body_idle_timeout_s` (a client that declared more than it sends)."""
        chunks, size = [], 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), self.body_idle_timeout_s)
            except asyncio.TimeoutError:
                raise Rejection(
                    408,
                    "body_timeout",
                    f"request body incomplete: {size} bytes received, then nothing for {self.body_idle_timeout_s:g} s",
                ) from None
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self.too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                body = b"".join(chunks)
                self.check_encoding(body)
                return body

    @staticmethod
    def check_encoding(body: bytes) -> None:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejection(400, "encoding", f"request body is not valid UTF-8 (bad byte at offset {exc.start})") from None

    def count_work(self, body: bytes) -> tuple[int, int]:
        """The request's work for admission: (items, explanation runs); refuses unknown top-level fields.
        Malformed JSON counts nothing and is left to the schema check, which names the problem."""
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return 0, 0
        if not isinstance(payload, dict):
            return 0, 0
        unknown = sorted(set(payload) - TOP_LEVEL_FIELDS)
        if unknown:
            names = ", ".join(json.dumps(name, ensure_ascii=False)[:40] for name in unknown[:MAX_LISTED_PROBLEMS])
            raise Rejection(400, "validation", f'invalid request: unknown top-level field(s) {names}; send {{"items": [...]}}')
        items = payload.get("items")
        if not isinstance(items, list):
            return 0, 0
        explained = [item for item in items if isinstance(item, dict) and item.get("explain") is True]
        budget = self.admission.item_budget(len(explained))
        return len(items), sum(explain_runs(item.get("text"), item.get("parent_text"), budget) for item in explained)

    def admit(self, items: int, explain_runs: int, client: str) -> Ticket:
        try:
            return self.admission.admit(items, explain_runs, client)
        except Overloaded as busy:
            raise Rejection(
                429,
                "overloaded",
                f"the server is busy ({busy.queued_items} items queued); retry after {busy.retry_after_ms} ms",
                (
                    (b"retry-after", str(math.ceil(busy.retry_after_ms / 1000)).encode()),
                    (b"retry-after-ms", str(busy.retry_after_ms).encode()),
                ),
                {"retry_after_ms": busy.retry_after_ms},
            ) from None


def explain_runs(text: object, parent_text: object, budget: int) -> int:
    """An upper bound on one explanation's model runs: two reference runs plus one per word, at most its budget
    (withyou/explain.py reads only the words inside the model's window, and stops at the budget)."""
    count = sum(len(words(value)) for value in (text, parent_text) if isinstance(value, str))
    return min(budget, 2 + count)


def client_of(scope: Scope) -> str:
    """Who sent the request, for the explanation share: the peer address (behind a proxy, the proxy's)."""
    client = scope.get("client")
    return str(client[0]) if client else ""


def spread_explain(body: bytes) -> bytes:
    """A top-level `"explain": true` asks for every item to be explained. The BentoML API takes the item list
    alone (its signature is `items`), so the flag travels on each item that does not set
    its own. Bodies without the key pass untouched; unparsable ones are left for BentoML to answer 400."""
    if b'"explain"' not in body:
        return body
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser's stack
        return body
    if not isinstance(payload, dict) or "explain" not in payload:
        return body
    explain = payload.pop("explain")
    if not isinstance(explain, bool):
        raise Rejection(400, "validation", "invalid request: explain: must be true or false")
    items = payload.get("items")
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict):
            item.setdefault("explain", explain)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands the app the body already read, then defers to the real one (disconnects)."""
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


async def send_json(send: Send, status: int, body: bytes, headers: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


class ResponseWatcher:
    """Wraps send(): notes the status, rewrites BentoML's 400 validation body into a readable one, and records
    the request's metrics just before its last byte goes out (so a client that scrapes /metrics next sees it)."""

    def __init__(self, send: Send, request_id: str) -> None:
        self._send = send
        self.request_id = request_id
        self._started = time.perf_counter()
        self._recorded = False
        self.status: int | None = None
        self.reason: str | None = None
        self._held_start: Message | None = None
        self._held_body: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", self.request_id.encode())]}
            if self.status == 400:
                self._held_start = message
                return
        elif message["type"] == "http.response.body" and self._held_start is not None:
            self._held_body.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self._send_rewritten()
            return
        if message["type"] == "http.response.body" and not message.get("more_body", False):
            self.finish()
        await self._send(message)

    async def _send_rewritten(self) -> None:
        assert self._held_start is not None
        raw = b"".join(self._held_body)
        try:
            payload = json.loads(raw)
            detail = payload.get("detail") if isinstance(payload, dict) else None
        except ValueError:
            payload, detail = {"error": raw.decode("utf-8", "replace")}, None
        if isinstance(detail, list) and detail:
            payload = {"error": describe_validation(detail), "detail": detail}
            self.reason = "validation"
        body = json_body(payload)
        headers = [(k, v) for k, v in self._held_start["headers"] if k.lower() not in (b"content-length", b"content-type")]
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        self.finish()
        await self._send({**self._held_start, "headers": headers})
        await self._send({"type": "http.response.body", "body": body, "more_body": False})

    def finish(self) -> None:
        """Count the request once: status, latency, and the error reason for a 4xx/5xx."""
        if self._recorded:
            return
        self._recorded = True
        seconds = time.perf_counter() - self._started
        metrics = serving_metrics()
        status = self.status or 500
        metrics.requests.labels(status=str(status)).inc()
        metrics.latency.observe(seconds)
        if status >= 400:
            reason = self.reason or {503: "overloaded"}.get(status, "internal" if status >= 500 else "client")
            metrics.errors.labels(reason=reason).inc()
            log = logger.error if status >= 500 else logger.info
            log("/classify answered %d (%s) in %.1f ms, request %s", status, reason, seconds * 1000, self.request_id)
