"""The pile-on webhook: one signed POST per thread that comes under attack, retried with backoff.

Sent by the review sink on the serving hook's background thread, after the store committed the thread's flip, so
it never delays /classify; while it retries, the next review candidates wait in the hook's bounded queue (at most
`attempts` × `timeout_s` plus the backoff: 3 × 5 s + 0.5 s + 1 s by default). Delivery is at most once per thread:
only the worker that flipped the thread sends it, and a server that stops between the flip and the POST loses it
(the thread's queue item is there either way).

Body (JSON, UTF-8): {"event": "thread.under_attack", "event_id", "thread_id", "at", "rule", "counted_in_window",
"window_minutes", "share_of_last", "last", "review_item_id"}. No text, no author.

Signature: `X-WithYou-Timestamp: <unix seconds>` and `X-WithYou-Signature: sha256=<hex>`, the HMAC-SHA256 of
`<timestamp>.<body>` with WITHYOU_REVIEW_WEBHOOK_SECRET. A receiver recomputes it over the raw body
(`verify_signature`) and refuses stale timestamps to stop replays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx

logger = logging.getLogger("withyou.review")

EVENT = "thread.under_attack"
SIGNATURE_HEADER = "X-WithYou-Signature"
TIMESTAMP_HEADER = "X-WithYou-Timestamp"


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def verify_signature(secret: bytes, timestamp: str, body: bytes, offered: str, max_age_s: float = 300.0) -> bool:
    """What a receiver checks: the signature over the raw body, and a timestamp no older than `max_age_s`."""
    try:
        fresh = abs(time.time() - int(timestamp)) <= max_age_s
    except ValueError:
        return False
    return fresh and hmac.compare_digest(signature(secret, timestamp, body), offered)


class Webhook:
    def __init__(
        self,
        url: str,
        secret: bytes,
        attempts: int = 3,
        backoff_s: float = 0.5,
        timeout_s: float = 5.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.secret = secret
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self._sleep = sleep

    def send(self, event: dict[str, Any]) -> bool:
        """POST the event; True once a 2xx answer came, False after the last failed try (logged, never raised)."""
        body = json.dumps({"event": EVENT, **event}, sort_keys=True).encode("utf-8")
        for attempt in range(1, self.attempts + 1):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: signature(self.secret, timestamp, body),
            }
            try:
                status = httpx.post(self.url, content=body, headers=headers, timeout=self.timeout_s).status_code
                problem = None if 200 <= status < 300 else f"HTTP {status}"
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            if problem is None:
                return True
            if attempt < self.attempts:
                delay = self.backoff_s * 2 ** (attempt - 1)
                logger.warning("webhook %s for event %s failed (try %d of %d, retrying in %.2f s): %s",
                               EVENT, event.get("event_id"), attempt, self.attempts, delay, problem)  # fmt: skip
                self._sleep(delay)
            else:
                logger.error("webhook %s for event %s failed after %d tries: %s",
                             EVENT, event.get("event_id"), self.attempts, problem)  # fmt: skip
        return False
