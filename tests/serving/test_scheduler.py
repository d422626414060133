"""Admission control and smallest-first scheduling (serving/scheduler.py), with a stand-in model."""

from __future__ import annotations

import asyncio
import time

import pytest

from serving.scheduler import Admission, Overloaded, Scheduler

SECONDS_PER_ITEM = 0.002


def slow_model(calls: list[int]):
    def run(items):
        calls.append(len(items))
        time.sleep(SECONDS_PER_ITEM * len(items))
        return [f"result-{item}" for item in items]

    return run


def test_results_come_back_in_order_in_chunks_of_at_most_chunk_items():
    calls: list[int] = []
    scheduler = Scheduler(slow_model(calls), chunk_items=4, on_batch=lambda items, seconds: None)

    results = asyncio.run(scheduler.submit(list(range(10))))

    assert results == [f"result-{n}" for n in range(10)]
    assert max(calls) <= 4


def test_a_small_request_is_not_stuck_behind_a_giant_one():
    """The 1-item request arrives after a 400-item one and still finishes first, after at most a chunk or two."""
    scheduler = Scheduler(slow_model([]), chunk_items=8, on_batch=lambda items, seconds: None)
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
    scheduler = Scheduler(slow_model(calls), chunk_items=16, on_batch=lambda items, seconds: None)

    async def many() -> None:
        await asyncio.gather(*(scheduler.submit([n]) for n in range(12)))

    asyncio.run(many())

    assert len(calls) < 12


def test_a_failing_model_call_fails_only_its_requests():
    def run(items):
        if "boom" in items:
            raise RuntimeError("model failed")
        return items

    scheduler = Scheduler(run, chunk_items=1, on_batch=lambda items, seconds: None)

    async def two():
        return await asyncio.gather(scheduler.submit(["boom"]), scheduler.submit(["fine"]), return_exceptions=True)

    failed, fine = asyncio.run(two())

    assert isinstance(failed, RuntimeError)
    assert fine == ["fine"]


def test_admission_refuses_past_the_item_bound_with_a_retry_estimate():
    admission = Admission(max_queued_items=10, max_wait_ms=60_000)
    admission.observe(items=10, seconds=1.0)  # 100 ms per item measured, folded into the 50 ms prior
    admission.admit(8)

    with pytest.raises(Overloaded) as refused:
        admission.admit(5)

    assert refused.value.queued_items == 8
    assert refused.value.retry_after_ms == round(3 * (0.8 * 50 + 0.2 * 100))
    admission.admit(2)  # what fits is admitted
    admission.release(8)
    admission.release(2)
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
        admission.sizes[256] += 1  # as if admitted earlier

    admission.admit(1)

    with pytest.raises(Overloaded):
        admission.admit(256)


def test_an_idle_worker_admits_any_request():
    admission = Admission(max_queued_items=1, max_wait_ms=1)

    admission.admit(256)

    assert admission.queued_items == 256


def test_a_giant_request_is_not_starved_by_a_stream_of_small_ones():
    """Once it has waited `overdue_s`, the giant request's chunks go before new 1-item requests."""
    calls: list[list[int]] = []

    def run(items):
        calls.append(list(items))
        time.sleep(0.02)
        return items

    scheduler = Scheduler(run, chunk_items=4, on_batch=lambda items, seconds: None, overdue_s=0.5)

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
