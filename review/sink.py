"""The review sink: serving.hooks.ReviewCandidate → a row in the review store, off the /classify request path.

Turn it on with `WITHYOU_REVIEW_SINK=review.sink:create_sink` (or `withyou serve --review-sink …`).
It runs on the hook's single background thread (serving/hooks.py), so nothing here can slow or fail /classify.

Retries: a transient database error (SQLAlchemy OperationalError / DisconnectionError / pool timeout — "database
is locked", a dropped PostgreSQL connection) is retried up to `store_attempts` times in all, waiting
`store_backoff_s`, then twice that, … between tries (defaults: 3 tries, 0.2 s + 0.4 s). After the last try the
error goes up to the hook, which logs the item id and counts `withyou_review_candidates_total{outcome="failed"}`.
While a candidate is being retried the next ones wait in the hook's bounded queue (dropped and counted when full).

Priority: when the candidate has a parent post, the sink classifies the parent with the served Classifier (the
worker's own loaded model, handed to the factory; results cached by parent-text hash because many replies share
one parent) and stores the parent's scores; `parent_is_disclosure` (the parent's most probable label is
disclosure) puts the reply at the head of the queue. A failure there only loses the priority flag, never the item.
Logs carry item ids and error types only, never text.

Threads (issue 21): the sink is a serving.hooks.ThreadSink. It hashes each `author_id` with HMAC-SHA256 under
WITHYOU_REVIEW_AUTHOR_KEY before anything reaches the store (no key: the id is dropped), counts replies under their
thread (review/threads.py), and when a thread comes under attack reports `thread_under_attack` to the hook (metrics)
and POSTs the signed webhook (review/webhook.py), both on the hook's thread. `thread_status(thread_id)` answers
from an in-memory set of the threads under attack: the threads this worker flipped, plus the store's list re-read
every `thread_status_refresh_s` seconds (`refresh_thread_status`, called by the hook's thread). So an answer can
lag the store by the hand-off delay plus that interval, and the reply that tips a thread is answered before it is
counted (its answer does not carry the status; the next ones do).

Gauges (issue 21 items 5 and 6): at most every `metrics_refresh_s` seconds the same refresh also re-reads the
queue's service levels and appeal rates (ReviewStore.status_report) into the /metrics gauges of review/metrics.py.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from review.store import ReviewStore
from review.threads import UNDER_ATTACK, ThreadOutcome, author_hash
from review.webhook import Webhook

logger = logging.getLogger("withyou.review")

TRANSIENT_ERRORS = (OperationalError, DisconnectionError, PoolTimeout)
ParentScorer = Callable[[str], "dict[str, float] | None"]


class BundleParentScorer:
    """Scores parent posts with the served Classifier; an LRU cache keyed by text hash saves repeated parents."""

    def __init__(self, classifier: Any, cache_size: int = 2048) -> None:
        self.classifier = classifier
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, dict[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, parent_text: str) -> dict[str, float] | None:
        key = hashlib.sha256(parent_text.encode("utf-8")).digest()
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            from withyou.bundle import Item

            scores = dict(self.classifier.predict([Item(text=parent_text)])[0].scores)
            self._cache[key] = scores
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
            return scores


class StoreSink:
    """serving.hooks.ReviewSink and ThreadSink writing to a ReviewStore, with bounded retries (module docstring)."""

    def __init__(
        self,
        store: ReviewStore,
        attempts: int = 3,
        backoff_s: float = 0.2,
        parent_scorer: ParentScorer | None = None,
        sleep: Callable[[float], None] = time.sleep,
        author_key: bytes | None = None,
        webhook: Webhook | None = None,
        refresh_s: float = 2.0,
        metrics_refresh_s: float = 30.0,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be ≥ 1, got {attempts}")
        self.store = store
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.parent_scorer = parent_scorer
        self._sleep = sleep
        self.author_key = author_key
        self.webhook = webhook
        self.refresh_s = refresh_s
        self.metrics_refresh_s = metrics_refresh_s
        self._gauges_due = 0.0
        self._under_attack: frozenset[str] = frozenset()
        self._warned_no_key = False

    @classmethod
    def from_settings(cls, classifier: Any) -> "StoreSink":
        from review.config import get_review_settings

        settings = get_review_settings()
        scorer = BundleParentScorer(classifier) if settings.classify_parents else None
        webhook = None
        if settings.webhook_url:
            webhook = Webhook(
                settings.webhook_url,
                settings.webhook_secret.get_secret_value().encode("utf-8"),
                attempts=settings.webhook_attempts,
                backoff_s=settings.webhook_backoff_s,
                timeout_s=settings.webhook_timeout_s,
            )
        return cls(
            ReviewStore.from_settings(settings),
            attempts=settings.store_attempts,
            backoff_s=settings.store_backoff_s,
            parent_scorer=scorer,
            author_key=settings.author_key.get_secret_value().encode("utf-8") if settings.author_key else None,
            webhook=webhook,
            refresh_s=settings.thread_status_refresh_s,
            metrics_refresh_s=settings.metrics_refresh_s,
        )

    def enqueue(self, candidate: Any) -> list[str]:
        parent_scores = self.score_parent(candidate)
        author = self.hash_author(getattr(candidate, "author_id", None))
        _, outcome = self.retried(candidate.id, lambda: self.store.enqueue_counting(candidate, parent_scores, author))
        return self.report(outcome)

    def count_reply(self, reply: Any) -> list[str]:
        author = self.hash_author(reply.author_id)
        return self.report(self.retried(reply.id, lambda: self.store.count_reply(reply, author)))

    def thread_status(self, thread_id: str) -> str | None:
        return UNDER_ATTACK if thread_id in self._under_attack else None

    def refresh_thread_status(self) -> None:
        self._under_attack = frozenset(self.store.threads_under_attack())
        if time.monotonic() >= self._gauges_due:
            self._gauges_due = time.monotonic() + self.metrics_refresh_s
            self.refresh_gauges()

    def refresh_gauges(self) -> None:
        """Service levels and appeal rates into /metrics (review/metrics.py); a failure keeps the last values."""
        from review import metrics

        try:
            metrics.publish(self.store.status_report())
        except Exception as exc:  # the thread statuses are refreshed; the gauges wait for the next round
            logger.warning("could not refresh the review gauges: %s", type(getattr(exc, "orig", None) or exc).__name__)

    def hash_author(self, author_id: str | None) -> str | None:
        if author_id is None:
            return None
        if self.author_key is None:
            if not self._warned_no_key:
                self._warned_no_key = True
                logger.warning("author ids are dropped: set WITHYOU_REVIEW_AUTHOR_KEY to keep their keyed hashes")
            return None
        return author_hash(author_id, self.author_key)

    def retried(self, item_id: str | None, write: Callable[[], Any]) -> Any:
        for attempt in range(1, self.attempts + 1):
            try:
                return write()
            except TRANSIENT_ERRORS as exc:
                if attempt == self.attempts:
                    raise
                delay = self.backoff_s * 2 ** (attempt - 1)
                logger.warning(
                    "review store error for item id=%s (try %d of %d, retrying in %.2f s): %s",
                    item_id, attempt, self.attempts, delay, type(getattr(exc, "orig", None) or exc).__name__,
                )  # fmt: skip
                self._sleep(delay)

    def report(self, outcome: ThreadOutcome | None) -> list[str]:
        """The hook's events for what counting changed; a new attack is remembered and sent to the webhook."""
        if outcome is None:
            return []
        events = ["repeat_author"] if outcome.new_repeat_author else []
        if not outcome.under_attack:
            return events
        self._under_attack = self._under_attack | {outcome.thread_id}
        events.append("thread_under_attack")
        logger.warning("thread %s is under attack (rule %s): review item %s",
                       outcome.thread_id, outcome.rule, outcome.thread_item_id)  # fmt: skip
        if self.webhook is not None:
            delivered = self.webhook.send(self.attack_event(outcome))
            events.append("webhook_delivered" if delivered else "webhook_failed")
        return events

    def attack_event(self, outcome: ThreadOutcome) -> dict[str, Any]:
        rule = self.store.pile_on
        return {
            "event_id": f"under_attack:{outcome.thread_id}",
            "thread_id": outcome.thread_id,
            "at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
            "rule": outcome.rule,
            "counted_in_window": outcome.counted_in_window,
            "window_minutes": int(rule.window.total_seconds() // 60),
            "share_of_last": outcome.share_of_last,
            "last": rule.last,
            "review_item_id": outcome.thread_item_id,
        }

    def score_parent(self, candidate: Any) -> dict[str, float] | None:
        if not candidate.parent_text or self.parent_scorer is None:
            return None
        try:
            return self.parent_scorer(candidate.parent_text)
        except Exception as exc:  # the item still goes to the queue, only without the priority flag
            logger.warning("could not classify the parent of item id=%s: %s", candidate.id, type(exc).__name__)
            return None


def create_sink(classifier: Any) -> StoreSink:
    """The `WITHYOU_REVIEW_SINK` factory (`review.sink:create_sink`), called by serving.hooks.load_sink."""
    return StoreSink.from_settings(classifier)
