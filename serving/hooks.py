"""The review hook: items whose action needs a human (review/hide by default) go to a `ReviewSink`.

Contract for the review queue (issue 6): implement `ReviewSink.enqueue(candidate)` and expose a factory
`module:function` taking the served Classifier and returning the sink; point `WITHYOU_REVIEW_SINK` (or
`withyou serve --review-sink`) at it (`review.sink:create_sink` is the review app's). The sink runs on one background thread per worker, fed through a bounded queue, so a slow or failing
store never slows or fails /classify: when the queue is full the candidate is dropped, and every outcome
(queued, delivered, dropped, failed) is counted in `withyou_review_candidates_total`. Failures are logged with
the item id only. The candidate carries the post text because reviewers need it — never log it.

With no sink configured nothing is queued and no thread runs.

The review app (review/, a stage beside serving/) is reached only through entry points named in the settings and
loaded here by name, never imported: the sink (`review_sink`) and the reviewer UI/API the service mounts at /review
(`review_app`, default `review.app:serving_mount`; tests/test_import_contract.py forbids any other arrow).
A setting that still names the app's old home (`serving.review.sink:create_sink`) is loaded from review/ with a
deprecation line in the log.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

logger = logging.getLogger("withyou.serving.hooks")

MOVED_ENTRY_POINTS = {"serving.review.sink:create_sink": "review.sink:create_sink"}
"""Entry points of the review app before it moved to review/ (issue 21): old setting values keep working."""

Outcome = str  # "queued" | "delivered" | "dropped" | "failed"


@dataclass(frozen=True)
class ReviewCandidate:
    """One classified post that needs a human decision."""

    id: str | None
    text: str
    parent_text: str | None
    label: str
    scores: dict[str, float]
    action: str
    model_version: str
    classified_at: str  # ISO 8601, UTC
    explanation: dict | None = None  # withyou.explain.Explanation as a dict, when the item asked for one


@runtime_checkable
class ReviewSink(Protocol):
    def enqueue(self, candidate: ReviewCandidate) -> None:
        """Store one candidate. May block or raise; the caller is a background thread that logs and counts errors."""


class NullSink:
    """The default: review candidates go nowhere."""

    def enqueue(self, candidate: ReviewCandidate) -> None:
        return None


def load_entry_point(ref: str, setting: str) -> Callable[..., Any]:
    """The callable named by 'package.module:attribute' (a value of the serving setting `setting`)."""
    if ref in MOVED_ENTRY_POINTS:
        logger.warning(
            "deprecated: %s=%s names the review app's old home; use %s (the old name will stop working)",
            setting, ref, MOVED_ENTRY_POINTS[ref],
        )  # fmt: skip
        ref = MOVED_ENTRY_POINTS[ref]
    module_name, _, attr = ref.partition(":")
    if not module_name or not attr:
        raise ValueError(f"{setting} must look like 'package.module:factory', got {ref!r}")
    factory = getattr(importlib.import_module(module_name), attr, None)
    if factory is None:
        raise ValueError(f"{setting} {ref!r}: module {module_name} has no {attr}")
    return factory


def load_sink(ref: str | None, classifier: Any) -> ReviewSink:
    """Build the sink named by 'package.module:factory', or NullSink when ref is empty. The factory is called with
    the server's loaded withyou.bundle.Classifier, so a sink that scores posts (the review sink scores parents)
    shares the served model instead of loading a second copy."""
    if not ref:
        return NullSink()
    sink = load_entry_point(ref, "review_sink")(classifier)
    if not isinstance(sink, ReviewSink):
        raise ValueError(f"review sink {ref!r} returned {type(sink).__name__}, which has no enqueue(candidate) method")
    return sink


class ReviewerMount(Protocol):
    """What a `review_app` factory returns: the ASGI `app` to mount at `path`, and the ASGI `middleware` class
    (called as middleware(app, prefix=path)) the service wraps around everything under `path`, so the router's own
    answers there (the redirect /review → /review/) carry the app's security headers too."""

    path: str
    app: Any
    middleware: Any


def load_reviewer_mount(ref: str | None, served_bundle: str | None) -> ReviewerMount | None:
    """The reviewer app the service mounts, built by the `review_app` factory with the served bundle reference
    (reviewers decide among its labels); None when the setting is empty (no /review at all)."""
    if not ref:
        return None
    mount = load_entry_point(ref, "review_app")(served_bundle)
    if not all(hasattr(mount, name) for name in ("path", "app", "middleware")):
        raise ValueError(f"review app {ref!r} returned {type(mount).__name__}, which lacks path, app or middleware")
    return mount


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class ReviewQueue:
    """Fire-and-forget hand-off of review candidates to a sink, off the request path."""

    def __init__(
        self,
        sink: ReviewSink,
        actions: Iterable[str] = ("review", "hide"),
        maxsize: int = 10_000,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.sink = sink
        self.actions = frozenset(actions)
        self.enabled = not isinstance(sink, NullSink) and bool(self.actions)
        self._queue: queue.Queue[ReviewCandidate | None] = queue.Queue(maxsize=maxsize)
        self._on_outcome = on_outcome or (lambda outcome: None)
        self._thread: threading.Thread | None = None
        if self.enabled:
            self._thread = threading.Thread(target=self._drain, name="withyou-review-sink", daemon=True)
            self._thread.start()

    def wants(self, action: str) -> bool:
        return self.enabled and action in self.actions

    def offer(self, candidate: ReviewCandidate) -> None:
        """Queue a candidate without blocking; drop it (counted, logged by id) when the queue is full."""
        try:
            self._queue.put_nowait(candidate)
        except queue.Full:
            self._on_outcome("dropped")
            logger.warning("review queue full, dropped item id=%s action=%s", candidate.id, candidate.action)
            return
        self._on_outcome("queued")

    def _drain(self) -> None:
        while True:
            candidate = self._queue.get()
            if candidate is None:
                return
            try:
                self.sink.enqueue(candidate)
            except Exception as exc:  # a failing store must never reach /classify
                self._on_outcome("failed")
                logger.error("review sink failed for item id=%s: %s", candidate.id, type(exc).__name__)
            else:
                self._on_outcome("delivered")

    def close(self, timeout: float = 5.0) -> None:
        """Let the thread deliver what is queued (up to `timeout` seconds), then stop it."""
        if self._thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            logger.warning("review queue still full at shutdown; %d candidates not delivered", self._queue.qsize())
            return
        self._thread.join(timeout)
