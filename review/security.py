"""Reviewer authentication, CSRF tokens and security headers for everything under /review.

Reviewers are listed in a JSON file (`WITHYOU_REVIEW_REVIEWERS_FILE`): `{"alice": "<key>", "bob": "sha256:<hex>"}`.
A key is at least 16 characters; storing only its SHA-256 (`withyou review add-reviewer` does) keeps the file
harmless to read. These keys are separate from the /classify API key and must differ from it.

Every request under /review must authenticate, static files included; there is no anonymous access:
    Authorization: Bearer <key>  or  X-Review-Key: <key>     (API clients)
    Authorization: Basic base64(name:key)                     (browsers: the UI's login prompt)
Otherwise: 401 with `WWW-Authenticate: Basic` (JSON body under /api, a short HTML page elsewhere).

CSRF: a browser re-sends Basic credentials to any site's form, so every state-changing request authenticated
by Basic must carry the reviewer's CSRF token (form field `csrf_token` or header `X-CSRF-Token`), else 403.
The token is HMAC-SHA256(key = WITHYOU_REVIEW_SECRET + SHA-256 of the reviewer's key, "csrf:" + name): tied to
the credentials, valid across workers and restarts, unknowable to another site. Bearer/X-Review-Key requests
need none (no browser attaches those on its own).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_KEY_CHARS = 16
REALM = 'Basic realm="WithYou review", charset="UTF-8"'

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class ReviewerConfigError(ValueError):
    """The reviewers file is missing or malformed; the message names the file and the entry."""


@dataclass(frozen=True)
class Reviewer:
    name: str
    key_digest: bytes  # SHA-256 of the key


def key_digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


class Reviewers:
    def __init__(self, reviewers: list[Reviewer], secret: str = "") -> None:
        self._by_name = {r.name: r for r in reviewers}
        self._secret = secret.encode("utf-8")

    @classmethod
    def load(cls, path: Path, secret: str = "", classify_key: str | None = None) -> "Reviewers":
        try:
            entries = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ReviewerConfigError(f"cannot read reviewers file {path}: {exc.strerror}") from None
        except json.JSONDecodeError as exc:
            raise ReviewerConfigError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(entries, dict) or not entries:
            raise ReviewerConfigError(f"{path}: expected a JSON object {{\"reviewer name\": \"key\"}} with ≥ 1 entry")
        reviewers = [parse_entry(path, name, value) for name, value in entries.items()]
        if classify_key and any(hmac.compare_digest(r.key_digest, key_digest(classify_key)) for r in reviewers):
            raise ReviewerConfigError(f"{path}: a reviewer key equals the /classify API key; use separate keys")
        return cls(reviewers, secret)

    def by_key(self, key: str) -> Reviewer | None:
        """The reviewer holding `key` (every entry is compared, in constant time each)."""
        digest = key_digest(key)
        found = None
        for reviewer in self._by_name.values():
            if hmac.compare_digest(reviewer.key_digest, digest):
                found = reviewer
        return found

    def by_basic(self, name: str, key: str) -> Reviewer | None:
        reviewer = self._by_name.get(name)
        digest = key_digest(key)
        if reviewer is None:
            hmac.compare_digest(digest, digest)  # same work for unknown names
            return None
        return reviewer if hmac.compare_digest(reviewer.key_digest, digest) else None

    def csrf_token(self, reviewer: Reviewer) -> str:
        return hmac.new(self._secret + reviewer.key_digest, f"csrf:{reviewer.name}".encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, reviewer: Reviewer, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(reviewer), token)


def parse_entry(path: Path, name: Any, value: Any) -> Reviewer:
    if not isinstance(name, str) or not NAME.match(name):
        raise ReviewerConfigError(f"{path}: reviewer name {name!r} must be 1-64 of A-Z a-z 0-9 _ . @ -")
    if not isinstance(value, str):
        raise ReviewerConfigError(f"{path}: key of {name!r} must be a string")
    if value.startswith("sha256:"):
        try:
            digest = bytes.fromhex(value[len("sha256:") :])
        except ValueError:
            digest = b""
        if len(digest) != 32:
            raise ReviewerConfigError(f"{path}: key of {name!r} must be 'sha256:' + 64 hex digits")
        return Reviewer(name, digest)
    if len(value) < MIN_KEY_CHARS:
        raise ReviewerConfigError(f"{path}: key of {name!r} is shorter than {MIN_KEY_CHARS} characters")
    return Reviewer(name, key_digest(value))


def authenticate(reviewers: Reviewers, headers: dict[bytes, bytes]) -> tuple[Reviewer | None, str]:
    """(reviewer or None, method "bearer" | "basic" | "none") from request headers."""
    header_key = headers.get(b"x-review-key")
    if header_key:
        return reviewers.by_key(header_key.decode("latin-1")), "bearer"
    scheme, _, value = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return reviewers.by_key(value.strip()), "bearer"
    if scheme.lower() == "basic" and value.strip():
        try:
            name, _, key = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, "basic"
        return reviewers.by_basic(name, key), "basic"
    return None, "none"


class ReviewerAuth:
    """ASGI middleware: authenticate every request (401 otherwise) and put the reviewer in `scope["state"]`."""

    def __init__(self, app: Any, reviewers: Reviewers) -> None:
        self.app = app
        self.reviewers = reviewers

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        reviewer, method = authenticate(self.reviewers, dict(scope["headers"]))
        if reviewer is None:
            await unauthorized(scope, send, "no credentials" if method == "none" else "wrong reviewer credentials")
            return
        state = scope.setdefault("state", {})
        state["reviewer"], state["auth_method"] = reviewer, method
        await self.app(scope, receive, send)


def wants_json(scope: dict) -> bool:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    relative = path[len(root) :] if root and path.startswith(root) else path
    return relative.startswith("/api")


async def unauthorized(scope: dict, send: Any, reason: str) -> None:
    if wants_json(scope):
        body = json.dumps({"error": f"reviewer authentication required ({reason}): send 'Authorization: Bearer "
                                    "<reviewer key>', 'X-Review-Key' or HTTP Basic"}).encode()  # fmt: skip
        media = b"application/json"
    else:
        body = (b"<!doctype html><title>Sign in</title><p>Reviewer sign-in required: your browser asks for "
                b"your reviewer name and key.</p>")  # fmt: skip
        media = b"text/html; charset=utf-8"
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode()), (b"www-authenticate", REALM.encode())]
    await send({"type": "http.response.start", "status": 401, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """ASGI middleware adding the CSP and the other security headers to every response, errors included.

    With `prefix` it covers only that path and the paths under it: in front of the router that mounts the reviewer
    app at /review, it also covers the answers the router gives itself, such as the redirect /review → /review/.
    """

    def __init__(self, app: Any, prefix: str = "") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        covered = not self.prefix or path == self.prefix or path.startswith(self.prefix + "/")
        if scope["type"] != "http" or not covered:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {name for name, _ in SECURITY_HEADERS}
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in names]
                message = {**message, "headers": kept + SECURITY_HEADERS}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UnexpectedErrors:
    """ASGI middleware: an exception no handler took becomes a plain 500 (JSON under /api, HTML elsewhere).

    Starlette's own last resort answers text/plain outside every middleware (so without the security headers) and
    re-raises, and uvicorn then closes the keep-alive connection. Here the exception stops: it is logged by type
    and path only (exception messages can quote SQL parameters, i.e. post text), and the answer names no detail.
    """

    def __init__(self, app: Any, logger: Any) -> None:
        self.app = app
        self.logger = logger

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: dict) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # the last resort: every other error has its own handler in review/app.py
            path = scope.get("path", "")[:200].encode("unicode_escape").decode("ascii")
            self.logger.error("review request %s %s failed: %s", scope.get("method"), path, type(exc).__name__)
            if not started:
                await internal_error(scope, send)


async def internal_error(scope: dict, send: Any) -> None:
    message = "internal error in the review service; it is logged (without post text); try again or report it"
    if wants_json(scope):
        body, media = json.dumps({"error": message}).encode(), b"application/json"
    else:
        body = f"<!doctype html><title>Error 500</title><h1>Error 500</h1><p>{message}</p>".encode()
        media = b"text/html; charset=utf-8"
    headers = [(b"content-type", media), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 500, "headers": headers})
    await send({"type": "http.response.body", "body": body})
