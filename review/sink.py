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
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from review.store import ReviewStore

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
    """serving.hooks.ReviewSink writing to a ReviewStore, with bounded retries (see the module docstring)."""

    def __init__(
        self,
        store: ReviewStore,
        attempts: int = 3,
        backoff_s: float = 0.2,
        parent_scorer: ParentScorer | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be ≥ 1, got {attempts}")
        self.store = store
        self.attempts = attempts
        self.backoff_s = backoff_s
        self.parent_scorer = parent_scorer
        self._sleep = sleep

    @classmethod
    def from_settings(cls, classifier: Any) -> "StoreSink":
        from review.config import get_review_settings

        settings = get_review_settings()
        scorer = BundleParentScorer(classifier) if settings.classify_parents else None
        return cls(
            ReviewStore.from_settings(settings),
            attempts=settings.store_attempts,
            backoff_s=settings.store_backoff_s,
            parent_scorer=scorer,
        )

    def enqueue(self, candidate: Any) -> None:
        parent_scores = self.score_parent(candidate)
        for attempt in range(1, self.attempts + 1):
            try:
                self.store.enqueue(candidate, parent_scores)
                return
            except TRANSIENT_ERRORS as exc:
                if attempt == self.attempts:
                    raise
                delay = self.backoff_s * 2 ** (attempt - 1)
                logger.warning(
                    "review store error for item id=%s (try %d of %d, retrying in %.2f s): %s",
                    candidate.id, attempt, self.attempts, delay, type(getattr(exc, "orig", None) or exc).__name__,
                )  # fmt: skip
                self._sleep(delay)

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
