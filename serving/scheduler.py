"""Admission control and scheduling of model work inside one worker: a bound on queued items, smallest first.

Why not BentoML's adaptive batcher: it serves requests first-come first-served and answers 503, after the fact,
to a request it predicts will miss its latency budget. Under 16 concurrent maximum-size requests (256 items of
5,000-character text and parent) that meant 503s after 20-30 s and a 1-item request waiting 23 s behind them.

- `Admission` (used by serving/guard.py before a request reaches the service) counts the items admitted and not
  yet answered in this worker. A request that would take the count past `max_queued_items`, or whose estimated
  time to answer (the items scheduled before or with it × measured ms per item) passes half the request timeout,
  is refused with 429 and a retry estimate in milliseconds (the excess); a request is always admitted into an
  idle worker, so any request within the input limits can be served.
- `Scheduler` runs the model on one thread, `chunk_items` items per call, taking items from the requests with
  the fewest items left first (shortest remaining work first); requests waiting longer than `overdue_s` get
  three quarters of each call, oldest first, so a stream of small requests cannot starve a giant one. A 1-item request
  waits for the call in progress, not for the giant requests before it; small requests arriving together share
  one model call.

The bound also bounds memory: at most `max_queued_items` items are decoded in a worker at once, and the bundle
reader runs them in token-capped batches (withyou/bundle.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
from collections import Counter
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger("withyou.serving")
INITIAL_MS_PER_ITEM = 50.0  # a maximum-size item on 2 cores, until the worker has measured its own
MIN_RETRY_AFTER_MS = 50


class Overloaded(Exception):
    def __init__(self, retry_after_ms: int, queued_items: int):
        super().__init__(f"{queued_items} items queued")
        self.retry_after_ms, self.queued_items = retry_after_ms, queued_items


class Admission:
    """Requests admitted and not yet answered in this worker, against two bounds: `max_queued_items`, and
    `max_wait_ms` on the estimated time to answer the new request, counted as the scheduler will run it
    (smallest first: each request ahead delays it by at most as many items as it has itself). The second bound
    keeps admitted requests well within the request timeout on a slow or busy machine, without refusing small
    requests because giant ones are queued. One event loop: no lock needed."""

    def __init__(self, max_queued_items: int, max_wait_ms: float) -> None:
        self.max_queued_items = max_queued_items
        self.max_wait_ms = max_wait_ms
        self.sizes: Counter[int] = Counter()  # items per admitted request
        self.ms_per_item = INITIAL_MS_PER_ITEM

    @property
    def queued_items(self) -> int:
        return sum(size * count for size, count in self.sizes.items())

    def admit(self, items: int) -> None:
        """Reserve room for `items` or raise Overloaded; release it with `release(items)` once answered."""
        queued = self.queued_items
        ahead = sum(min(size, items) * count for size, count in self.sizes.items())
        over_ms = max(
            (queued + items - self.max_queued_items) * self.ms_per_item,
            (ahead + items) * self.ms_per_item - self.max_wait_ms,
        )
        if queued > 0 and over_ms > 0:
            raise Overloaded(max(MIN_RETRY_AFTER_MS, math.ceil(over_ms)), queued)
        self.sizes[items] += 1

    def release(self, items: int) -> None:
        if self.sizes[items] > 0:
            self.sizes[items] -= 1
        if self.sizes[items] == 0:
            del self.sizes[items]

    def observe(self, items: int, seconds: float) -> None:
        """Fold one model call's cost into the ms-per-item estimate behind Retry-After (moving average)."""
        if items > 0:
            self.ms_per_item = 0.8 * self.ms_per_item + 0.2 * (seconds * 1000 / items)


@dataclass(eq=False)
class Job:
    items: Sequence[Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    next_index: int = 0
    results: list[Any] = field(default_factory=list)
    submitted: float = field(default_factory=time.monotonic)

    @property
    def remaining(self) -> int:
        return len(self.items) - self.next_index


class Scheduler:
    """One inference thread fed smallest-remaining-request first, `chunk_items` items per model call."""

    def __init__(
        self,
        run: Callable[[list[Any]], list[Any]],
        chunk_items: int,
        on_batch: Callable[[int, float], None],
        overdue_s: float = 15.0,
    ) -> None:
        self.run, self.chunk_items, self.on_batch, self.overdue_s = run, chunk_items, on_batch, overdue_s
        self.jobs: list[Job] = []
        self.ready = threading.Condition()
        self.thread = threading.Thread(target=self.work, name="withyou-model", daemon=True)
        self.thread.start()

    async def submit(self, items: Sequence[Any]) -> list[Any]:
        """The model's results for `items`, in order, once the inference thread has run them all."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        job = Job(items, loop, loop.create_future())
        with self.ready:
            self.jobs.append(job)
            self.ready.notify()
        return await job.future

    def next_chunk(self) -> list[tuple[Job, int, int]]:
        """Up to `chunk_items` items as (job, start, end) slices, waiting until there is work."""
        with self.ready:
            chunk: list[tuple[Job, int, int]] = []
            while not chunk:
                while not self.jobs:
                    self.ready.wait()
                chunk = self.take_smallest()
            return chunk

    def take_smallest(self) -> list[tuple[Job, int, int]]:
        """Called holding the lock. Smallest remaining first; when some requests are overdue, a quarter of the
        chunk still goes to the smallest and the rest to the overdue ones, oldest first."""
        self.jobs = [job for job in self.jobs if not job.future.done()]  # done early: the client went away
        now = time.monotonic()
        by_size = sorted(self.jobs, key=lambda job: job.remaining)
        overdue = sorted((job for job in self.jobs if now - job.submitted > self.overdue_s), key=lambda job: job.submitted)
        plan = [(by_size, max(1, self.chunk_items // 4)), (overdue, self.chunk_items)] if overdue else []
        plan.append((by_size, self.chunk_items))
        slices: dict[Job, tuple[int, int]] = {}
        taken = 0
        for jobs, limit in plan:
            for job in jobs:
                take = min(limit - taken, job.remaining)
                if take <= 0:
                    continue
                start = slices.get(job, (job.next_index, job.next_index))[0]
                job.next_index += take
                slices[job] = (start, job.next_index)
                taken += take
        self.jobs = [job for job in self.jobs if job.remaining > 0]
        return [(job, start, end) for job, (start, end) in slices.items()]

    def work(self) -> None:
        while True:
            chunk = self.next_chunk()
            items = [item for job, start, end in chunk for item in job.items[start:end]]
            started = time.perf_counter()
            try:
                results = self.run(items)
            except Exception as exc:  # fail the requests in this chunk, keep serving the others
                for job, _, _ in chunk:
                    self.finish(job, error=exc)
                continue
            self.on_batch(len(items), time.perf_counter() - started)
            offset = 0
            for job, start, end in chunk:
                job.results.extend(results[offset : offset + end - start])
                offset += end - start
                if len(job.results) == len(job.items):
                    self.finish(job)

    def finish(self, job: Job, error: Exception | None = None) -> None:
        if error is not None:
            with self.ready:
                if job in self.jobs:
                    self.jobs.remove(job)
        try:
            job.loop.call_soon_threadsafe(settle, job.future, job.results, error)
        except RuntimeError:  # the loop is gone (shutdown): nobody waits for this answer
            pass


def settle(future: asyncio.Future, results: list[Any], error: Exception | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(results)
