"""ASGI middleware in front of POST /classify: the checks BentoML does not make, and JSON errors for all of them.

BentoML sets no request-size limit and would answer some bad requests with plain text or a bare pydantic dump.
This guard, in order: method (405), API key when one is configured (401), content type (415), declared
Content-Length and then the streamed size (413, the body is never buffered past the cap), UTF-8 (400); a
top-level `"explain": true|false` is moved onto every item (`spread_explain`). It then
rewrites BentoML's 400 validation response so that `error` says which field broke which rule. It also counts
every /classify request, its latency and its errors (serving/metrics.py).

Every error body is `{"error": "<what is wrong>", ...}` with a 4xx status.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from serving.metrics import serving_metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

logger = logging.getLogger("withyou.serving")
MAX_LISTED_PROBLEMS = 5


class Rejection(Exception):
    def __init__(self, status: int, reason: str, message: str, headers: tuple[tuple[bytes, bytes], ...] = ()):
        super().__init__(message)
        self.status, self.reason, self.message, self.headers = status, reason, message, headers


class ClientGone(Exception):
    """The client disconnected before sending its whole body."""


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
    def __init__(self, app: Callable[..., Awaitable[None]], *, path: str, api_key: str | None, max_body_bytes: int):
        self.app = app
        self.path = path
        self.api_key = api_key.encode("utf-8") if api_key else None
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].rstrip("/") != self.path:
            await self.app(scope, receive, send)
            return
        response = ResponseWatcher(send)
        try:
            self.check_headers(scope)
            body = await self.read_body(receive)
            self.check_encoding(body)
            body = spread_explain(body)
        except Rejection as rejection:
            response.status, response.reason = rejection.status, rejection.reason
            response.finish()
            await send_json(send, rejection.status, json_body({"error": rejection.message}), rejection.headers)
        except ClientGone:
            response.status, response.reason = 499, "client_disconnected"
        else:
            await self.app(scope, replay(body, receive), response.send)
        finally:
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
        """The whole body, refusing it as soon as the streamed bytes pass the cap (chunked uploads included)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self.too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    def check_encoding(body: bytes) -> None:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Rejection(400, "encoding", f"request body is not valid UTF-8 (bad byte at offset {exc.start})") from None


def spread_explain(body: bytes) -> bytes:
    """A top-level `"explain": true` asks for every item to be explained. BentoML's batched API takes the item list
    alone (the batcher mixes the items of concurrent requests), so the flag travels on each item that does not set
    its own. Bodies without the key pass untouched; unparsable ones are left for BentoML to answer 400."""
    if b'"explain"' not in body:
        return body
    try:
        payload = json.loads(body)
    except ValueError:
        return body
    if not isinstance(payload, dict) or "explain" not in payload:
        return body
    explain = payload.pop("explain")
    if not isinstance(explain, bool):
        raise Rejection(400, "validation", "invalid request: explain: must be true or false")
    for item in payload.get("items") or []:
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

    def __init__(self, send: Send) -> None:
        self._send = send
        self._started = time.perf_counter()
        self._recorded = False
        self.status: int | None = None
        self.reason: str | None = None
        self._held_start: Message | None = None
        self._held_body: list[bytes] = []

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
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
            log("/classify answered %d (%s) in %.1f ms", status, reason, seconds * 1000)
