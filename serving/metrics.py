"""WithYou's own Prometheus metrics, served by BentoML at /metrics beside its `bentoml_service_*` series.

prometheus_client is imported on first use, never at module import: BentoML sets PROMETHEUS_MULTIPROC_DIR in
each worker during start-up, and a client imported before that would count in a registry /metrics never reads.

    withyou_requests_total{status}                 /classify requests by HTTP status
    withyou_request_duration_seconds               /classify latency, middleware to last byte
    withyou_errors_total{reason}                   rejected or failed /classify requests, by reason
    withyou_items_total{label,action}              classified items
    withyou_model_batch_size                       items per model call made by the scheduler
    withyou_review_candidates_total{outcome}       review hook: queued / delivered / dropped / failed
    withyou_items_by_language_total{lang,supported} classified items by detected language (ISO 639-1, "und" when
                                                   none) and whether the model was trained on it
    withyou_explained_items_total                  items explained (`"explain": true`)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@dataclass(frozen=True)
class ServingMetrics:
    requests: Any
    latency: Any
    errors: Any
    items: Any
    batch_size: Any
    review_candidates: Any
    languages: Any
    explained: Any


@cache
def serving_metrics() -> ServingMetrics:
    """The metric objects, created once per process (after BentoML configured prometheus_client)."""
    from prometheus_client import Counter, Histogram

    return ServingMetrics(
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
        languages=Counter(
            "withyou_items_by_language", "classified items by detected language and support", ["lang", "supported"]
        ),
        explained=Counter("withyou_explained_items", "items explained on request"),
    )
