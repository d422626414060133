"""The review queue's state as Prometheus gauges, in the classifier service's /metrics (issue 21 items 5 and 6).

The sink (review/sink.py) re-reads `ReviewStore.status_report()` every `WITHYOU_REVIEW_METRICS_REFRESH_S` seconds
on the serving hook's background thread and sets these gauges; serving/metrics.py's /metrics serves them with its
own (BentoML's workers share them through the multiprocess directory; the most recent value wins, and every worker
reads the same store). `withyou review serve` (the reviewer app alone) has no /metrics: it answers the same report
at GET /review/api/status.

    withyou_review_open_items{priority_class}            open items (pending or claimed) per class
    withyou_review_sla_seconds{priority_class}           the class's service level
    withyou_review_sla_breaches{priority_class}          open items older than their class's service level
    withyou_review_oldest_open_seconds{priority_class}   age of the class's oldest open item (0 when none)
    withyou_review_appeals{state}                        appeals open / decided
    withyou_review_appeal_rate{label}                    appeals / posts decided with the label (NaN: none decided)
    withyou_review_overturn_rate{label}                  overturned / appeals decided (NaN: none decided)

Bounded: `priority_class` is review/sla.py's four classes, `label` the appealable labels (a setting).
prometheus_client is imported on first use, after BentoML has set up the multiprocess directory in the worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

NOT_MEASURED = float("nan")


@dataclass(frozen=True)
class ReviewGauges:
    open_items: Any
    sla_seconds: Any
    sla_breaches: Any
    oldest_open_seconds: Any
    appeals: Any
    appeal_rate: Any
    overturn_rate: Any


@cache
def review_gauges() -> ReviewGauges:
    """The gauges, created once per process."""
    from prometheus_client import Gauge

    def gauge(name: str, description: str, label: str) -> Any:
        return Gauge(name, description, [label], multiprocess_mode="mostrecent")

    return ReviewGauges(
        open_items=gauge("withyou_review_open_items", "open review items per priority class", "priority_class"),
        sla_seconds=gauge("withyou_review_sla_seconds", "service level per priority class", "priority_class"),
        sla_breaches=gauge(
            "withyou_review_sla_breaches", "open items older than their class's service level", "priority_class"
        ),
        oldest_open_seconds=gauge(
            "withyou_review_oldest_open_seconds", "age of the oldest open item per priority class", "priority_class"
        ),
        appeals=gauge("withyou_review_appeals", "appeals by state (open, decided)", "state"),
        appeal_rate=gauge("withyou_review_appeal_rate", "appeals per post decided with the label", "label"),
        overturn_rate=gauge("withyou_review_overturn_rate", "overturned appeals per appeal decided", "label"),
    )


def publish(report: dict[str, Any]) -> None:
    """Set every gauge from one ReviewStore.status_report()."""
    gauges = review_gauges()
    for name, row in report["service_levels"].items():
        gauges.open_items.labels(priority_class=name).set(row["open"])
        gauges.sla_seconds.labels(priority_class=name).set(row["sla_minutes"] * 60)
        gauges.sla_breaches.labels(priority_class=name).set(row["breached"])
        gauges.oldest_open_seconds.labels(priority_class=name).set(row["oldest_age_seconds"] or 0.0)
    appeals = report["appeals"]
    gauges.appeals.labels(state="open").set(appeals["open"])
    gauges.appeals.labels(state="decided").set(appeals["decided"])
    for label, row in appeals["by_label"].items():
        gauges.appeal_rate.labels(label=label).set(_measured(row["appeal_rate"]))
        gauges.overturn_rate.labels(label=label).set(_measured(row["overturn_rate"]))


def _measured(value: float | None) -> float:
    return NOT_MEASURED if value is None else value
