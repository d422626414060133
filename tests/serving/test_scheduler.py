"""Admission control and smallest-first scheduling (serving/scheduler.py), with a stand-in model."""

from __future__ import annotations

import asyncio
import math
import time

import numpy as np
import pytest

from serving.scheduler import Admission, Expired, Overloaded, Scheduler, Ticket
from withyou.explain import MIN_RUN_BUDGET

SECONDS_PER_ITEM = 0.002


def slow_model(calls: list[int]):
    def run(items):
        calls.append(len(items))
        time.sleep(SECONDS_PER_ITEM * len(items))
        return [f"result-{item}" for item in items]

    return run


def test_results_come_back_in_order_in_chunks_of_at_most_chunk_items():
    calls: list[int] = []
    scheduler = Scheduler(slow_model(calls), chunk_items=4, on_batch=lambda *_: None)

    results = asyncio.run(scheduler.submit(list(range(10))))

    assert results == [f"result-{n}" for n in range(10)]
    assert max(calls) <= 4


def test_a_small_request_is_not_stuck_behind_a_giant_one():
    """The 1-item request arrives after a 400-item one and still finishes first, after at most a chunk or two."""
    scheduler = Scheduler(slow_model([]), chunk_items=8, on_batch=lambda *_: None)
    finished: list[str] = []

    async def run(name: str, items: list[int], delay: float) -> None:
        await asyncio.sleep(delay)
        await scheduler.submit(items)
        finished.append(name)

    async def both() -> float:
        started = time.perf_counter()
        small = asyncio.create_task(run("small", [0], 0.05))
        giant = asyncio.create_task(run("giant", list(range(400)), 0.0))
        await small
        small_seconds = time.perf_counter() - started
        await giant
        return small_seconds

    small_seconds = asyncio.run(both())

    assert finished == ["small", "giant"]
    assert small_seconds < 0.05 + 4 * 8 * SECONDS_PER_ITEM + 0.2  # far below the giant's 0.8 s


def test_small_requests_arriving_together_share_a_model_call():
    calls: list[int] = []
    scheduler = Scheduler(slow_model(calls), chunk_items=16, on_batch=lambda *_: None)

    async def many() -> None:
        await asyncio.gather(*(scheduler.submit([n]) for n in range(12)))

    asyncio.run(many())

    assert len(calls) < 12


def test_a_failing_model_call_fails_only_its_requests():
    def run(items):
        if "boom" in items:
            raise RuntimeError("model failed")
        return items

    scheduler = Scheduler(run, chunk_items=1, on_batch=lambda *_: None)

    async def two():
        return await asyncio.gather(scheduler.submit(["boom"]), scheduler.submit(["fine"]), return_exceptions=True)

    failed, fine = asyncio.run(two())

    assert isinstance(failed, RuntimeError)
    assert fine == ["fine"]


def test_admission_refuses_past_the_item_bound_with_a_retry_estimate():
    admission = Admission(max_queued_items=10, max_wait_ms=60_000)
    admission.observe(runs=10, seconds=1.0)  # 100 ms per run measured, folded into the 50 ms prior
    first = admission.admit(8)

    with pytest.raises(Overloaded) as refused:
        admission.admit(5)

    assert refused.value.queued_items == 8
    assert refused.value.retry_after_ms == round(3 * (0.8 * 50 + 0.2 * 100))
    second = admission.admit(2)  # what fits is admitted
    admission.release(first)
    admission.release(second)
    assert admission.queued_items == 0


def test_admission_refuses_a_request_that_could_not_be_answered_in_time():
    admission = Admission(max_queued_items=1000, max_wait_ms=1000)
    admission.admit(10)  # 10 × 50 ms = 0.5 s of work queued

    with pytest.raises(Overloaded) as refused:
        admission.admit(15)  # answered after 25 × 50 ms = 1.25 s > 1 s

    assert refused.value.retry_after_ms == 250


def test_a_small_request_is_admitted_beside_giant_ones():
    """Smallest first: three 256-item requests delay a 1-item one by about one item each, not 768 items."""
    admission = Admission(max_queued_items=1000, max_wait_ms=1000)
    for _ in range(3):
        admission.tickets.append(Ticket(256, 0, "other"))  # as if admitted earlier

    admission.admit(1)

    with pytest.raises(Overloaded):
        admission.admit(256)


def test_an_idle_worker_admits_any_request():
    admission = Admission(max_queued_items=1, max_wait_ms=1)

    admission.admit(256)

    assert admission.queued_items == 256


def test_explanation_work_never_takes_the_room_of_plain_requests():
    """Two clients' worst-case explain requests fill the explanation pool; a 1-item plain request still gets in."""
    admission = Admission(max_queued_items=640, max_wait_ms=30_000, max_queued_explain_runs=2048)
    admission.ms_per_item = admission.ms_per_run = 5.0  # as measured on 2 cores
    admission.admit(16, explain_runs=1024, client="a")
    admission.admit(16, explain_runs=1024, client="b")

    with pytest.raises(Overloaded):
        admission.admit(16, explain_runs=1024, client="c")
    admission.admit(1, client="c")
    admission.admit(256, client="d")


def test_one_client_gets_a_share_of_the_explanation_pool_and_a_retry_from_its_queued_work():
    admission = Admission(max_queued_items=640, max_wait_ms=60_000, max_queued_explain_runs=4096, client_share=0.5)
    admission.ms_per_item = admission.ms_per_run = ms = 5.0  # as measured on 2 cores
    admission.admit(16, explain_runs=2000, client="a")

    with pytest.raises(Overloaded) as refused:
        admission.admit(16, explain_runs=2000, client="a")  # would hold 4,000 of 4,096

    assert refused.value.retry_after_ms == math.ceil((4000 - 2048) * ms)
    admission.admit(16, explain_runs=2000, client="b")  # another client still gets its share


def test_an_idle_explanation_pool_admits_an_explain_request_beside_plain_traffic():
    admission = Admission(max_queued_items=640, max_wait_ms=1_000, max_queued_explain_runs=10)
    admission.admit(1, client="plain")  # plain traffic never stops: the worker is never idle

    admission.admit(16, explain_runs=4096, client="a")  # 4,096 runs × 50 ms is far past the wait bound

    assert admission.queued_explain_runs == 4096
    with pytest.raises(Overloaded):
        admission.admit(16, explain_runs=100, client="b")


class StepPlan:
    """An explanation-plan stand-in: `steps` steps of `width` inputs each; returns the sum of what it was sent."""

    def __init__(self, steps: int, width: int, runs: list[int]) -> None:
        self.steps, self.width, self.runs = steps, width, runs

    def __call__(self):
        total = 0.0
        for step in range(self.steps):
            probs = yield [f"input-{step}-{i}" for i in range(self.width)]
            self.runs.append(len(probs))
            total += float(probs.sum())
        return total


def explain_model(encoded: list) -> np.ndarray:
    time.sleep(SECONDS_PER_ITEM * len(encoded))
    return np.ones((len(encoded), 1))


def test_explanation_plans_run_in_chunks_and_return_in_order():
    calls: list[int] = []

    def run_explain(encoded):
        calls.append(len(encoded))
        return explain_model(encoded)

    scheduler = Scheduler(slow_model([]), chunk_items=8, on_batch=lambda *_: None, run_explain=run_explain)
    plans = [StepPlan(steps, 5, [])() for steps in (1, 3, 2)]

    results = asyncio.run(scheduler.submit_explanations(plans, estimate=30))

    assert results == [5.0, 15.0, 10.0]
    assert max(calls) <= 8 and sum(calls) == 30


def test_a_plain_request_is_not_stuck_behind_explanation_work():
    scheduler = Scheduler(slow_model([]), chunk_items=8, on_batch=lambda *_: None, run_explain=explain_model)

    async def both() -> tuple[float, bool]:
        explaining = asyncio.create_task(scheduler.submit_explanations([StepPlan(50, 8, [])()], estimate=400))
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        await scheduler.submit([0])
        waited = time.perf_counter() - started
        still_explaining = not explaining.done()
        await explaining
        return waited, still_explaining

    waited, still_explaining = asyncio.run(both())

    assert still_explaining  # 400 runs × 2 ms: the plain request finished in the middle of it
    assert waited < 4 * 8 * SECONDS_PER_ITEM + 0.2


def test_a_cancelled_explanation_stops_running():
    runs: list[int] = []
    scheduler = Scheduler(slow_model([]), chunk_items=4, on_batch=lambda *_: None, run_explain=explain_model)

    async def cancel_midway() -> None:
        task = asyncio.create_task(scheduler.submit_explanations([StepPlan(100, 4, runs)()], estimate=400))
        await asyncio.sleep(0.1)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0.2)

    asyncio.run(cancel_midway())
    steps_when_cancelled = len(runs)
    time.sleep(0.3)

    assert steps_when_cancelled < 100
    assert len(runs) <= steps_when_cancelled + 1  # at most the call in progress finishes


def test_a_job_past_its_deadline_fails_and_stops_running():
    runs: list[int] = []
    scheduler = Scheduler(
        slow_model([]), chunk_items=4, on_batch=lambda *_: None, run_explain=explain_model, timeout_s=0.1
    )

    with pytest.raises(Expired):
        asyncio.run(scheduler.submit_explanations([StepPlan(100, 4, runs)()], estimate=400))
    time.sleep(0.2)

    assert len(runs) < 100


def test_a_giant_request_is_not_starved_by_a_stream_of_small_ones():
    """Once it has waited `overdue_s`, the giant request's chunks go before new 1-item requests."""
    calls: list[list[int]] = []

    def run(items):
        calls.append(list(items))
        time.sleep(0.02)
        return items

    scheduler = Scheduler(run, chunk_items=4, on_batch=lambda *_: None, overdue_s=0.5)

    async def small_stream(giant: asyncio.Task) -> None:
        while not giant.done():
            await scheduler.submit([0])

    async def stream() -> bool:
        giant = asyncio.create_task(scheduler.submit([-1] * 40))
        smalls = [asyncio.create_task(small_stream(giant)) for _ in range(8)]  # always more small work waiting
        done, _ = await asyncio.wait([giant], timeout=3.0)
        for task in smalls:
            task.cancel()
        await asyncio.gather(*smalls, return_exceptions=True)
        return giant in done

    assert asyncio.run(stream())  # without aging the giant would wait behind the small stream forever


def test_a_request_shares_its_explanation_budget_among_its_items():
    admission = Admission(max_queued_items=640, max_wait_ms=1, explain_runs_per_item=130, explain_runs_per_request=1024)

    assert admission.item_budget(1) == 130  # one item: what its model can read
    assert admission.item_budget(16) == 64  # sixteen: 1,024 runs shared
    assert admission.item_budget(1000) == MIN_RUN_BUDGET


def test_an_explanation_run_is_measured_with_the_tokenising_between_runs():
    """Retry-After and the wait bound see what explanation work really costs: its plans' own time counts."""

    def slow_plan():
        for _ in range(3):
            time.sleep(0.1)  # tokenising the next step's variants
            yield ["input"]
        return "done"

    observed: list[tuple[int, float, bool]] = []
    scheduler = Scheduler(
        slow_model([]), chunk_items=8, on_batch=lambda *call: observed.append(call), run_explain=explain_model
    )

    asyncio.run(scheduler.submit_explanations([slow_plan()], estimate=3))

    explained = [seconds for runs, seconds, explains in observed if explains]
    assert len(explained) == 3 and sum(explained) >= 0.2  # the first two advances precede a model call each
