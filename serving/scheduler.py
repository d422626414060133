"""Admission control and scheduling of model work inside one worker: bounds on queued work, smallest first.

Why not BentoML's adaptive batcher: it serves requests first-come first-served and answers 503, after the fact,
to a request it predicts will miss its latency budget. Under 16 concurrent maximum-size requests (256 items of
5,000-character text and parent) that meant 503s after 20-30 s and a 1-item request waiting 23 s behind them.

Work is counted in model runs. A plain item is one run; an explained item costs the runs of its occlusion plan
(withyou/explain.py: one per word the model reads, at most the run budget), estimated before it is admitted.

- `Admission` (used by serving/guard.py before a request reaches the service) counts the work admitted and not
  yet answered in this worker, in two pools: plain items (`max_queued_items`) and explanation runs
  (`max_queued_explain_runs`), so explanation work can never fill the queue that plain requests need. A request
  is refused with 429 and a retry estimate in milliseconds — the excess work × the measured ms per run — when it
  would pass a pool's bound, when its estimated time to answer (the work scheduled before or with it × ms per
  run) passes `max_wait_ms`, or when one client (`client` key: the peer address, or the API key's holder) would
  hold more than `client_share` of the explanation pool while it already has explanation work queued. A pool
  that is empty always admits, so any request within the input limits can be served.
- `Scheduler` runs the model on one thread, `chunk_items` runs per call, taking from the jobs with the least work
  left first (shortest remaining work first): a classification job is a request's items; an explanation job
  drives the request's explanation plans, a step at a time. Jobs waiting longer than `overdue_s` get three
  quarters of each call, oldest first, so a stream of small requests cannot starve a giant one. A job whose
  request was cancelled (BentoML's timeout, a client that left) or that passed its deadline is dropped between
  calls: its remaining work is never run.

The bounds also bound memory: at most `max_queued_items` items and `max_queued_explain_runs` runs are queued in a
worker, and the bundle reader runs them in token-capped batches (withyou/bundle.py).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from withyou.explain import MIN_RUN_BUDGET

logger = logging.getLogger("withyou.serving")
INITIAL_MS_PER_ITEM = 50.0  # a maximum-size item on 2 cores, until the worker has measured its own
MIN_RETRY_AFTER_MS = 50
ADVANCES_PER_CALL = 1
"""Explanation plans an explanation job may advance per model call (an advance tokenises a post's variants, up to
~0.4 s for a 5,000-character post and parent: plain requests wait for at most one)."""


class Overloaded(Exception):
    def __init__(self, retry_after_ms: int, queued_items: int):
        super().__init__(f"{queued_items} items queued")
        self.retry_after_ms, self.queued_items = retry_after_ms, queued_items


class Expired(Exception):
    """The job passed its deadline before its work was done; the rest of it was not run."""


@dataclass(frozen=True, eq=False)
class Ticket:
    """What one admitted request holds until it is answered."""

    items: int
    explain_runs: int
    client: str


class Admission:
    """Work admitted and not yet answered in this worker, in model runs, against the bounds in the module
    docstring. One event loop: no lock needed."""

    def __init__(
        self,
        max_queued_items: int,
        max_wait_ms: float,
        *,
        max_queued_explain_runs: int = 2048,
        client_share: float = 0.5,
        explain_runs_per_item: int = 256,
        explain_runs_per_request: int = 1024,
    ) -> None:
        self.max_queued_items = max_queued_items
        self.max_wait_ms = max_wait_ms
        self.max_queued_explain_runs = max_queued_explain_runs
        self.client_share = client_share
        self.explain_runs_per_item = explain_runs_per_item
        """Most runs one explained item can cost; the service lowers it to what its model can read."""
        self.explain_runs_per_request = explain_runs_per_request
        self.tickets: list[Ticket] = []
        self.ms_per_item = INITIAL_MS_PER_ITEM
        self.ms_per_run = INITIAL_MS_PER_ITEM
        """Measured cost of a plain item and of an explanation run (a plain call also detects languages, and
        1-item calls pay the call's overhead alone)."""

    @property
    def queued_items(self) -> int:
        return sum(ticket.items for ticket in self.tickets)

    @property
    def queued_explain_runs(self) -> int:
        return sum(ticket.explain_runs for ticket in self.tickets)

    def item_budget(self, explained_items: int) -> int:
        """Model runs each explained item of a request gets: the request's budget shared among its explained
        items, at most the per-item bound (withyou.explain.MIN_RUN_BUDGET at least)."""
        shared = self.explain_runs_per_request // max(1, explained_items)
        return max(MIN_RUN_BUDGET, min(self.explain_runs_per_item, shared))

    def cost_ms(self, items: int, explain_runs: int) -> float:
        return items * self.ms_per_item + explain_runs * self.ms_per_run

    def admit(self, items: int, explain_runs: int = 0, client: str = "") -> Ticket:
        """Reserve room for a request of `items` plain items (+ `explain_runs` explanation runs), or raise
        Overloaded; hand the ticket back to `release` once the request is answered.

        The time rule counts the work scheduled before or with the request (smallest first: each request ahead
        delays it by at most its own cost). An explain request that finds no explanation work queued does not
        count its own runs there: plain traffic alone never keeps it out."""
        queued, explaining = self.queued_items, self.queued_explain_runs
        own = self.cost_ms(items, explain_runs if explaining > 0 else 0)
        over_ms = [(queued + items - self.max_queued_items) * self.ms_per_item if queued > 0 else 0.0]
        if explain_runs and explaining > 0:
            mine = sum(ticket.explain_runs for ticket in self.tickets if ticket.client == client)
            over_ms.append((explaining + explain_runs - self.max_queued_explain_runs) * self.ms_per_run)
            if mine > 0:
                over_ms.append((mine + explain_runs - self.client_share * self.max_queued_explain_runs) * self.ms_per_run)
        if self.tickets:
            whole = self.cost_ms(items, explain_runs)
            ahead = sum(min(self.cost_ms(t.items, t.explain_runs), whole) for t in self.tickets)
            over_ms.append(ahead + own - self.max_wait_ms)
        worst = max(over_ms)
        if worst > 0:
            raise Overloaded(max(MIN_RETRY_AFTER_MS, math.ceil(worst)), queued + explaining)
        ticket = Ticket(items, explain_runs, client)
        self.tickets.append(ticket)
        return ticket

    def release(self, ticket: Ticket | None) -> None:
        if ticket is not None and ticket in self.tickets:
            self.tickets.remove(ticket)

    def observe(self, runs: int, seconds: float, explains: bool = False) -> None:
        """Fold one model call's cost into the ms-per-item (or, for explanation runs, ms-per-run) estimate behind
        Retry-After (moving average)."""
        if runs > 0:
            measured = seconds * 1000 / runs
            if explains:
                self.ms_per_run = 0.8 * self.ms_per_run + 0.2 * measured
            else:
                self.ms_per_item = 0.8 * self.ms_per_item + 0.2 * measured


@dataclass(eq=False)
class Job:
    """A request's classification: its items, run `chunk_items` at a time; the results are the model's, in order."""

    items: Sequence[Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    deadline: float = math.inf
    next_index: int = 0
    results: list[Any] = field(default_factory=list)
    submitted: float = field(default_factory=time.monotonic)
    explains = False

    @property
    def remaining(self) -> int:
        return len(self.items) - self.next_index

    def take(self, n: int) -> list[Any]:
        start = self.next_index
        self.next_index = min(len(self.items), start + n)
        return list(self.items[start : self.next_index])

    def give(self, taken: Sequence[Any], results: Sequence[Any]) -> None:
        self.results.extend(results)

    @property
    def finished(self) -> bool:
        return len(self.results) == len(self.items)


@dataclass(eq=False)
class ExplainJob:
    """A request's explanations: plans (withyou.explain.explanation_plan) driven a step at a time. Each step's
    inputs are run `chunk_items` at a time; a finished step's probabilities are sent to its plan only when the job
    is next taken from, at most ADVANCES_PER_CALL plans per call, so the tokenising between model runs is spread
    out too. The results are the plans' explanations, in order."""

    plans: Sequence[Any]
    estimate: int
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future
    deadline: float = math.inf
    submitted: float = field(default_factory=time.monotonic)
    explains = True

    def __post_init__(self) -> None:
        self.results: list[Any] = [None] * len(self.plans)
        self.done = [False] * len(self.plans)
        self.started = [False] * len(self.plans)
        self.inputs: dict[int, list[Any]] = {}  # plan → its current step's inputs
        self.taken: dict[int, int] = {}  # plan → inputs of the step handed out
        self.outputs: dict[int, list[np.ndarray]] = {}  # plan → probabilities received for the step
        self.runs_taken = 0
        self.advance_seconds = 0.0

    @property
    def remaining(self) -> int:
        """Runs left, estimated (for the order of jobs): 0 only when every plan has finished."""
        return 0 if all(self.done) else max(1, self.estimate - self.runs_taken)

    def advance(self, plan: int) -> None:
        """Start the plan, or send it its finished step's probabilities; note its next step or its result. The time
        it takes (tokenising variants) is noted in `advance_seconds`, to be counted with the next model call."""
        started = time.perf_counter()
        try:
            self.send(plan)
        finally:
            self.advance_seconds += time.perf_counter() - started

    def send(self, plan: int) -> None:
        if self.started[plan]:
            value = np.concatenate(self.outputs.pop(plan)) if self.inputs[plan] else np.zeros((0, 0))
        else:
            self.started[plan], value = True, None
        try:
            self.inputs[plan] = self.plans[plan].send(value)
            self.taken[plan], self.outputs[plan] = 0, []
        except StopIteration as stop:
            self.results[plan], self.done[plan] = stop.value, True
            self.inputs.pop(plan, None)

    def take(self, n: int) -> list[tuple[int, Any]]:
        """Up to `n` inputs as (plan, encoded input), advancing at most ADVANCES_PER_CALL plans to find them."""
        out: list[tuple[int, Any]] = []
        advances = 0
        for plan in range(len(self.plans)):
            while len(out) < n and not self.done[plan]:
                step_done = self.started[plan] and self.taken[plan] == len(self.inputs[plan])
                if step_done and sum(map(len, self.outputs[plan])) < len(self.inputs[plan]):
                    break  # handed out, not yet answered
                if not self.started[plan] or step_done:
                    if advances == ADVANCES_PER_CALL:
                        break
                    self.advance(plan)
                    advances += 1
                    continue
                start = self.taken[plan]
                self.taken[plan] = min(len(self.inputs[plan]), start + n - len(out))
                out.extend((plan, encoded) for encoded in self.inputs[plan][start : self.taken[plan]])
            if len(out) >= n or advances == ADVANCES_PER_CALL:
                break
        self.runs_taken += len(out)
        return out

    def give(self, taken: Sequence[tuple[int, Any]], probs: np.ndarray) -> None:
        offset = 0
        for plan in dict.fromkeys(plan for plan, _ in taken):
            size = sum(1 for p, _ in taken if p == plan)
            self.outputs[plan].append(probs[offset : offset + size])
            offset += size

    @property
    def finished(self) -> bool:
        return all(self.done)


class Scheduler:
    """One inference thread fed smallest-remaining-work first, `chunk_items` model runs per call (module docstring).

    `run(items)` classifies items (a list of results in order); `run_explain(encoded)` returns calibrated
    probabilities for encoded inputs (Classifier.probabilities_of). A job not done `timeout_s` after it was
    submitted is dropped and its request fails with Expired."""

    def __init__(
        self,
        run: Callable[[list[Any]], list[Any]],
        chunk_items: int,
        on_batch: Callable[[int, float, bool], None],
        overdue_s: float = 15.0,
        *,
        run_explain: Callable[[list[Any]], np.ndarray] | None = None,
        timeout_s: float = math.inf,
    ) -> None:
        self.run, self.chunk_items, self.on_batch, self.overdue_s = run, chunk_items, on_batch, overdue_s
        self.run_explain, self.timeout_s = run_explain, timeout_s
        self.jobs: list[Job | ExplainJob] = []
        self.ready = threading.Condition()
        self.thread = threading.Thread(target=self.work, name="withyou-model", daemon=True)
        self.thread.start()

    async def submit(self, items: Sequence[Any]) -> list[Any]:
        """The model's results for `items`, in order, once the inference thread has run them all."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        return await self.enqueue(Job(items, loop, loop.create_future(), deadline=self.deadline()))

    async def submit_explanations(self, plans: Sequence[Any], estimate: int) -> list[Any]:
        """The results of explanation plans, in order; `estimate` is the runs they were admitted for."""
        if not plans:
            return []
        if self.run_explain is None:
            raise RuntimeError("this scheduler was built without run_explain")
        loop = asyncio.get_running_loop()
        return await self.enqueue(ExplainJob(plans, estimate, loop, loop.create_future(), deadline=self.deadline()))

    def deadline(self) -> float:
        return time.monotonic() + self.timeout_s

    async def enqueue(self, job: Job | ExplainJob) -> list[Any]:
        with self.ready:
            self.jobs.append(job)
            self.ready.notify()
        return await job.future  # cancelling the request cancels this future: the job is then dropped

    def next_chunk(self) -> list[tuple[Job | ExplainJob, list[Any]]]:
        """Up to `chunk_items` inputs as (job, inputs taken from it), waiting until there is work. The lock is
        held only to read and prune the job list, never while plans tokenise."""
        while True:
            with self.ready:
                while not self.jobs:
                    self.ready.wait()
                self.drop_abandoned()
                jobs = list(self.jobs)
            chunk = self.take_smallest(jobs)
            for job in jobs:
                if job.finished:
                    self.finish(job)
            with self.ready:
                self.jobs = [job for job in self.jobs if job.remaining > 0 and not job.future.done()]
            if chunk:
                return chunk

    def drop_abandoned(self) -> None:
        """Called holding the lock: jobs whose request went away, and jobs past their deadline (failed)."""
        now = time.monotonic()
        for job in self.jobs:
            if now > job.deadline and not job.future.done():
                self.finish(job, error=Expired(f"not answered within {self.timeout_s:g} s"), locked=True)
        self.jobs = [job for job in self.jobs if not job.future.done() and now <= job.deadline]

    def take_smallest(self, jobs: list[Job | ExplainJob]) -> list[tuple[Job | ExplainJob, list[Any]]]:
        """Smallest remaining work first; when some jobs are overdue, a quarter of the chunk still goes to the
        smallest and the rest to the overdue ones, oldest first."""
        now = time.monotonic()
        by_size = sorted(jobs, key=lambda job: job.remaining)
        overdue = sorted((job for job in jobs if now - job.submitted > self.overdue_s), key=lambda job: job.submitted)
        plan = [(by_size, max(1, self.chunk_items // 4)), (overdue, self.chunk_items)] if overdue else []
        plan.append((by_size, self.chunk_items))
        taken: dict[Job | ExplainJob, list[Any]] = {}
        count = 0
        for ordered, limit in plan:
            for job in ordered:
                if count >= limit:
                    break
                if job.remaining <= 0 or job.future.done():
                    continue
                try:
                    inputs = job.take(limit - count)
                except Exception as exc:  # an explanation plan failed: fail its request, keep serving the others
                    self.finish(job, error=exc)
                    continue
                taken.setdefault(job, []).extend(inputs)
                count += len(inputs)
        return [(job, inputs) for job, inputs in taken.items() if inputs]

    def work(self) -> None:
        while True:
            chunk = self.next_chunk()
            plain = [(job, inputs) for job, inputs in chunk if not job.explains]
            explained = [(job, inputs) for job, inputs in chunk if job.explains]
            if plain:
                self.run_part(plain, self.run, explains=False)
            if explained:
                self.run_part(explained, lambda taken: self.run_explain([encoded for _, encoded in taken]), explains=True)

    def run_part(
        self, part: list[tuple[Job | ExplainJob, list[Any]]], run: Callable[[list[Any]], Any], *, explains: bool
    ) -> None:
        """One model call over the inputs of `part`; each job gets its share of the results."""
        inputs = [x for _, taken in part for x in taken]
        started = time.perf_counter()
        try:
            results = run(inputs)
        except Exception as exc:  # fail the requests in this call, keep serving the others
            for job, _ in part:
                self.finish(job, error=exc)
            return
        seconds = time.perf_counter() - started
        for job, _ in part:  # an explanation's runs cost their tokenising too (Retry-After and the wait bound)
            if job.explains:
                seconds, job.advance_seconds = seconds + job.advance_seconds, 0.0
        self.on_batch(len(inputs), seconds, explains)
        offset = 0
        for job, taken in part:
            job.give(taken, results[offset : offset + len(taken)])
            offset += len(taken)
            if job.finished:
                self.finish(job)

    def finish(self, job: Job | ExplainJob, error: Exception | None = None, *, locked: bool = False) -> None:
        if error is not None and not locked:
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
