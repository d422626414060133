"""The review hook: items whose action needs a human (review/hide by default) go to a `ReviewSink`.

Contract for the review queue (issue 6): implement `ReviewSink.enqueue(candidate)` and expose a factory
`module:function` taking the served Classifier and returning the sink; point `WITHYOU_REVIEW_SINK` (or
`withyou serve --review-sink`) at it (`review.sink:create_sink` is the review app's). The sink runs on one
background thread per worker, fed through a bounded queue, so a slow or failing store never slows or fails /classify: when the queue is full the candidate is dropped, and every outcome
(queued, delivered, dropped, failed) is counted in `withyou_review_candidates_total`. Failures are logged with
the item id only. The candidate carries the post text because reviewers need it — never log it.

Threads (issue 21): a sink that also has `count_reply`, `thread_status` and `refresh_thread_status` (a
`ThreadSink`, as the review sink is) counts replies for pile-on detection. Every item with a `thread_id` that is not
the root itself reaches it on the same background thread — a review candidate through `enqueue`, any other reply as
a text-free `ThreadReply` (counted in `withyou_thread_replies_total`). The same thread calls
`refresh_thread_status()` every `refresh_s` seconds, and /classify reads `thread_status(thread_id)`, which must
answer from memory without blocking. `author_id` is the platform's raw id: it is handed to the sink (which keeps a
keyed hash) and must never be logged; it is left out of the dataclasses' repr. The sink's methods may return event
names from `SINK_EVENTS`, counted in `withyou_review_events_total{event}`.

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
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol, runtime_checkable

logger = logging.getLogger("withyou.serving.hooks")

MOVED_ENTRY_POINTS = {"serving.review.sink:create_sink": "review.sink:create_sink"}
"""Entry points of the review app before it moved to review/ (issue 21): old setting values keep working."""

Outcome = str  # "queued" | "delivered" | "dropped" | "failed"
SINK_EVENTS = ("thread_under_attack", "repeat_author", "webhook_delivered", "webhook_failed")
"""What a sink may report back; anything else is ignored, so the metric's label set stays closed."""


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
    thread_id: str | None = None  # id of the thread's root post
    author_id: str | None = field(default=None, repr=False)  # raw platform id: never log it


@dataclass(frozen=True)
class ThreadReply:
    """A classified reply in a thread that needs no human decision: what pile-on counting needs, and no text."""

    id: str | None
    thread_id: str
    label: str
    action: str
    classified_at: str  # ISO 8601, UTC
    author_id: str | None = field(default=None, repr=False)  # raw platform id: never log it


@runtime_checkable
class ReviewSink(Protocol):
    def enqueue(self, candidate: ReviewCandidate) -> Iterable[str] | None:
        """Store one candidate. May block or raise; the caller is a background thread that logs and counts errors."""


@runtime_checkable
class ThreadSink(Protocol):
    refresh_s: float

    def count_reply(self, reply: ThreadReply) -> Iterable[str] | None:
        """Count one reply for its thread (background thread, may block or raise)."""

    def thread_status(self, thread_id: str) -> str | None:
        """The thread's status as last seen ("under_attack" or None), from memory: called on the request path."""

    def refresh_thread_status(self) -> None:
        """Re-read the statuses from the store (background thread, every `refresh_s` seconds)."""


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
    """Fire-and-forget hand-off of review candidates (and thread replies) to a sink, off the request path."""

    def __init__(
        self,
        sink: ReviewSink,
        actions: Iterable[str] = ("review", "hide"),
        maxsize: int = 10_000,
        on_outcome: Callable[[Outcome], None] | None = None,
        on_reply_outcome: Callable[[Outcome], None] | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.sink = sink
        self.actions = frozenset(actions)
        self.enabled = not isinstance(sink, NullSink) and bool(self.actions)
        self.counts_threads = self.enabled and isinstance(sink, ThreadSink)
        self._queue: queue.Queue[ReviewCandidate | ThreadReply | None] = queue.Queue(maxsize=maxsize)
        self._on_outcome = on_outcome or (lambda outcome: None)
        self._on_reply_outcome = on_reply_outcome or (lambda outcome: None)
        self._on_event = on_event or (lambda event: None)
        self._thread: threading.Thread | None = None
        if self.enabled:
            self._thread = threading.Thread(target=self._drain, name="withyou-review-sink", daemon=True)
            self._thread.start()

    def wants(self, action: str) -> bool:
        return self.enabled and action in self.actions

    def wants_reply(self, thread_id: str | None, item_id: str | None) -> bool:
        """A post in a thread, other than its root, is counted even when it needs no review."""
        return self.counts_threads and thread_id is not None and item_id != thread_id

    def thread_status(self, thread_id: str | None) -> str | None:
        """The sink's cached status of the thread (never blocks), or None."""
        if not self.counts_threads or thread_id is None:
            return None
        return self.sink.thread_status(thread_id)  # type: ignore[attr-defined]

    def offer(self, candidate: ReviewCandidate | ThreadReply) -> None:
        """Queue a candidate or reply without blocking; drop it (counted, logged by id) when the queue is full."""
        on_outcome = self._on_reply_outcome if isinstance(candidate, ThreadReply) else self._on_outcome
        try:
            self._queue.put_nowait(candidate)
        except queue.Full:
            on_outcome("dropped")
            logger.warning("review queue full, dropped item id=%s action=%s", candidate.id, candidate.action)
            return
        on_outcome("queued")

    def _drain(self) -> None:
        refresh_s = float(getattr(self.sink, "refresh_s", 0)) if self.counts_threads else 0.0
        next_refresh = time.monotonic()
        while True:
            if refresh_s and time.monotonic() >= next_refresh:
                self._refresh()
                next_refresh = time.monotonic() + refresh_s
            try:
                candidate = self._queue.get(timeout=max(0.0, next_refresh - time.monotonic()) if refresh_s else None)
            except queue.Empty:
                continue
            if candidate is None:
                return
            self._deliver(candidate)

    def _deliver(self, candidate: ReviewCandidate | ThreadReply) -> None:
        is_reply = isinstance(candidate, ThreadReply)
        on_outcome = self._on_reply_outcome if is_reply else self._on_outcome
        try:
            events = self.sink.count_reply(candidate) if is_reply else self.sink.enqueue(candidate)  # type: ignore[attr-defined]
        except Exception as exc:  # a failing store must never reach /classify
            on_outcome("failed")
            logger.error("review sink failed for item id=%s: %s", candidate.id, type(exc).__name__)
            return
        on_outcome("delivered")
        for event in events or ():
            if event in SINK_EVENTS:
                self._on_event(event)

    def _refresh(self) -> None:
        try:
            self.sink.refresh_thread_status()  # type: ignore[attr-defined]
        except Exception as exc:  # the cached statuses stay as they were
            logger.warning("could not refresh thread statuses: %s", type(exc).__name__)

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
