"""The WithYou BentoML service: POST /classify on a model bundle, with onnxruntime and tokenizers only.

Run it with `withyou serve` (serving/cli.py), which checks the bundle loads, resolves the settings and starts
`bentoml serve serving.service:WithYou`; settings reach each worker as WITHYOU_* variables (serving/config.py).

- The bundle loads once per worker in `__init__`, is warmed up, and only then does /readyz answer 200. A worker
  that cannot start stops the whole server (`stop_server_on_failure`) instead of being restarted forever.
- /classify: the guard (serving/guard.py) checks the request and admits it against `max_queued_items` and, for
  explanations, `max_queued_explain_runs` (429 + Retry-After past them); the scheduler (serving/scheduler.py) runs
  the model on one thread, at most `max_batch_size` runs per call, smallest work first, so small requests never
  wait behind giant ones. Explanations run there too, a step at a time, and stop when their request is cancelled.
- Items whose action is in `review_actions` go to the review hook (serving/hooks.py), off the request path.
- /review is the reviewer API and UI of the review app (review/, on when WITHYOU_REVIEW_REVIEWERS_FILE is set),
  loaded by the name in the `review_app` setting, never imported (serving/hooks.py).
- Logs carry escaped item ids, labels, actions and timings — never post text (withyou/logs.py).
- /metrics is served by serving/metrics.py (`HTTPMetrics`: route-template labels, optional token); BentoML's own
  metrics are off, because they label by the raw request path (serving/metrics.py says why).

Nothing here imports torch or transformers (tests/serving/test_no_torch.py checks the running server).
"""

from __future__ import annotations

import logging
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path

import bentoml
from pydantic import ValidationError

from serving.config import get_settings
from serving.guard import RequestGuard
from serving.hooks import ReviewCandidate, ReviewQueue, ThreadReply, load_reviewer_mount, load_sink, now_utc
from serving.metrics import HTTPMetrics, serving_metrics
from serving.openapi import OpenAPIDocs
from serving.scheduler import Admission, Scheduler
from serving.schemas import ClassifyItem, ClassifyItems, ClassifyResult
from withyou.bundle import BundleError, Classifier, Item
from withyou.explain import explanation_plan
from withyou.logs import configure_logging, escape
from withyou.registry import resolve_bundle

logger = logging.getLogger("withyou.serving")
settings = get_settings()
configure_logging(settings.log_level)
admission = Admission(
    settings.max_queued_items,
    max_wait_ms=settings.request_timeout_s * 1000 / 2,
    max_queued_explain_runs=settings.max_queued_explain_runs,
    client_share=settings.explain_client_share,
    explain_runs_per_item=settings.explain_runs_per_item,
    explain_runs_per_request=settings.explain_runs_per_request,
)
STARTUP_FAILURE_FILE = "WITHYOU_STARTUP_FAILURE_FILE"  # set by `withyou serve` (serving/cli.py)
LOGGED_IDS = 20
reviewer = load_reviewer_mount(settings.review_app, settings.bundle)  # reviewers use the served labels
DEADLINE_GRACE_S = 5.0
"""The scheduler drops a job this long after the request timeout, should its cancellation not have reached it."""

WARM_UP_ITEMS = [
    Item(text="warm-up"),
    Item(text="a longer warm-up post " * 40, parent_text="the post it answers"),
]


def invalid_answer(exc: ValidationError) -> bentoml.exceptions.InternalServerError:
    """Our own answer broke ClassifyResult: a bug on our side, so a 500, never the 400 that BentoML gives every
    pydantic error (the request was valid: it had passed ClassifyItems). Logged with the fields and rules only."""
    broken = "; ".join(f"{'.'.join(str(part) for part in error['loc'])} ({error['type']})" for error in exc.errors())
    logger.error("/classify built an answer its schema refuses (a bug, answered 500): %s", broken)
    return bentoml.exceptions.InternalServerError("the classification answer failed its own schema")


def stop_server_on_failure(exc: BaseException) -> None:
    """Log why this worker cannot start, leave the reason for `withyou serve`, and stop the BentoML arbiter (our
    parent): a bundle that fails to load will fail again, so restarting the worker would only loop."""
    message = f"{type(exc).__name__}: {exc}"
    logger.critical("worker cannot start, stopping the server: %s", message)
    failure_file = os.environ.get(STARTUP_FAILURE_FILE)
    if failure_file:
        Path(failure_file).write_text(escape(message) + "\n", encoding="utf-8")
    os.kill(os.getppid(), signal.SIGTERM)


@bentoml.service(
    name="withyou",
    workers=settings.workers,
    traffic={"timeout": settings.request_timeout_s},
    metrics={"enabled": False},  # HTTPMetrics serves /metrics instead (serving/metrics.py)
)
class WithYou:
    """Classifies posts with the served bundle's labels (by default disclosure / supportive / harassing / neutral)
    and maps P(harassing) to an action."""

    def __init__(self) -> None:
        self.ready = False
        try:
            self.start()
        except Exception as exc:
            stop_server_on_failure(exc)
            raise
        self.ready = True

    def start(self) -> None:
        configure_logging(settings.log_level)
        started = time.perf_counter()
        bundle_path = resolve_bundle(settings.bundle)
        self.classifier = Classifier.from_bundle(
            bundle_path, intra_op_threads=settings.threads_per_worker(), batch_size=settings.max_batch_size
        )
        refusal = settings.unverified_refusal(bundle_path, self.classifier.checksums_verified)
        if refusal:
            raise BundleError(refusal)
        self.thresholds = settings.thresholds(self.classifier.thresholds)
        self.model_version = self.classifier.model_version
        self.metrics = serving_metrics()
        self.review = ReviewQueue(
            load_sink(settings.review_sink, self.classifier),
            actions=settings.review_actions,
            maxsize=settings.review_queue_size,
            on_outcome=lambda outcome: self.metrics.review_candidates.labels(outcome=outcome).inc(),
            on_reply_outcome=lambda outcome: self.metrics.thread_replies.labels(outcome=outcome).inc(),
            on_event=lambda event: self.metrics.review_events.labels(event=event).inc(),
        )
        for _ in range(3):
            self.classifier.predict(WARM_UP_ITEMS)
        # An explained item reads at most the model's window: two reference runs plus one per token position.
        admission.explain_runs_per_item = min(settings.explain_runs_per_item, self.classifier.max_length + 2)
        self.scheduler = Scheduler(
            lambda items: self.classifier.predict(items, self.thresholds),
            settings.max_batch_size,
            self.observe_batch,
            overdue_s=settings.request_timeout_s / 6,
            run_explain=self.classifier.probabilities_of,
            timeout_s=settings.request_timeout_s + DEADLINE_GRACE_S,
        )
        logger.info(
            "loaded model %s from %s in %.1f s: %d onnxruntime threads, thresholds review=%.3f hide=%.3f (%s), "
            "review hook %s, settings %s",
            self.model_version,
            bundle_path,
            time.perf_counter() - started,
            settings.threads_per_worker(),
            self.thresholds.review,
            self.thresholds.hide,
            self.thresholds.source,
            "on" if self.review.enabled else "off",
            settings.safe_summary(),
        )

    def observe_batch(self, runs: int, seconds: float, explains: bool) -> None:
        if not explains:
            self.metrics.batch_size.observe(runs)
        admission.observe(runs, seconds, explains)

    def __is_ready__(self) -> bool:
        return self.ready

    @bentoml.api(route="/classify")
    async def classify(self, items: ClassifyItems) -> list[ClassifyResult]:
        """Classify a batch of posts (at most `max_items`, serving/config.py), each optionally with the post it
        replies to; results come back in order.

        Each result has the item's `id`, the most probable `label`, calibrated `scores` for every label of the bundle, the
        `action` (allow / review / hide), the `model_version`, the detected `lang` and `lang_confidence`, a
        `reason` when the language is one the model was not trained on (then it is never hidden, only reviewed,
        unless a part in a language it reads is harassing at the hide threshold), and, for items sent with
        `"explain": true`, an `explanation` (spans over the text and parent, the words read and explained, and a
        `note` when the request's explanation budget covered only the most influential passages). Texts longer
        than 2,000 characters are read as their first 1,500 and last 500 characters. An item may name its thread
        (`thread_id`, the root post's id) and its `author_id`; with the review sink on, items of a thread found
        under a pile-on carry `thread_status: "under_attack"`.
        A busy server answers 429 with `Retry-After` (seconds) and `Retry-After-Ms` (milliseconds).
        """
        started = time.perf_counter()
        predictions = await self.scheduler.submit(
            [Item(text=i.text, parent_text=i.parent_text, id=i.id) for i in items]
        )
        explanations = await self.explanations(items)
        try:
            results = [
                ClassifyResult(
                    **p.as_result(self.model_version),
                    explanation=explanations.get(index),
                    thread_status=self.review.thread_status(items[index].thread_id),  # cached: never blocks
                )
                for index, p in enumerate(predictions)
            ]
        except ValidationError as exc:
            raise invalid_answer(exc) from None
        for result in results:
            self.metrics.items.labels(label=result.label, action=result.action).inc()
            self.metrics.stages.labels(stage=result.stage).inc()
            supported = "no" if result.reason else "yes"
            self.metrics.languages.labels(lang=result.lang or "und", supported=supported).inc()
        self.hand_to_review(items, results)
        logger.info(
            "classified %d items in %.1f ms: %s",
            len(results),
            (time.perf_counter() - started) * 1000,
            ", ".join(f"{escape(str(r.id))}={r.label}/{r.action}" for r in results[:LOGGED_IDS])
            + (" …" if len(results) > LOGGED_IDS else ""),
        )
        return results

    async def explanations(self, items: list[ClassifyItem]) -> dict:
        """Explanations for the items that asked (item position → Explanation), run by the scheduler in model runs
        beside classification and dropped if the request is cancelled; nothing about them is logged."""
        asked = [index for index, item in enumerate(items) if item.explain]
        if not asked:
            return {}
        budget = admission.item_budget(len(asked))
        plans = [
            explanation_plan(self.classifier, Item(text=items[i].text, parent_text=items[i].parent_text), budget=budget)
            for i in asked
        ]
        explained = await self.scheduler.submit_explanations(plans, estimate=len(asked) * budget)
        self.metrics.explained.inc(len(asked))
        return dict(zip(asked, explained))

    def hand_to_review(self, items: list[ClassifyItem], results: list[ClassifyResult]) -> None:
        for item, result in zip(items, results):
            if self.review.wants(result.action):
                self.review.offer(
                    ReviewCandidate(
                        id=item.id,
                        text=item.text,
                        parent_text=item.parent_text,
                        label=result.label,
                        scores=result.scores,
                        action=result.action,
                        model_version=self.model_version,
                        classified_at=now_utc(),
                        explanation=asdict(result.explanation) if result.explanation else None,
                        thread_id=item.thread_id,
                        author_id=item.author_id,
                    )
                )
            elif self.review.wants_reply(item.thread_id, item.id):
                self.review.offer(
                    ThreadReply(item.id, item.thread_id, result.label, result.action, now_utc(), item.author_id)
                )

    @bentoml.on_shutdown
    def close_review_queue(self) -> None:
        if hasattr(self, "review"):  # absent when start() failed
            self.review.close()


WithYou.add_asgi_middleware(  # the first added is the outermost: it sees every answer of the ones below
    HTTPMetrics, token=settings.metrics_token.get_secret_value() if settings.metrics_token else None
)
WithYou.add_asgi_middleware(
    RequestGuard,
    path="/classify",
    api_key=settings.api_key.get_secret_value() if settings.api_key else None,
    max_body_bytes=settings.max_body_bytes,
    body_idle_timeout_s=settings.body_idle_timeout_s,
    admission=admission,
)
WithYou.add_asgi_middleware(OpenAPIDocs)  # /docs.json true to what the guard answers
if reviewer is not None:
    bentoml.asgi_app(reviewer.app, path=reviewer.path)(WithYou)
    WithYou.add_asgi_middleware(reviewer.middleware, prefix=reviewer.path)  # also the router's redirect /review → /review/
