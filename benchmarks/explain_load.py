"""Worst-case explanations against `withyou serve`, on loopback: memory, latency and what they do to others.

    .venv/bin/python benchmarks/explain_load.py --bundle artifacts/models/<version>/bundle [--seconds 60]

Worst case = 16 items (the `max_explain_items` cap) to explain, each with a 5,000-character text and a
5,000-character parent: the largest explain request the input limits allow (issue 22's probe drove a worker to
23 GB with one). Two phases, on one server:

1. alone: one worst-case request; its latency (and per item) and the worker's peak RSS.
2. fairness: `--clients` (8) clients send worst-case explain requests for `--seconds`, each honouring
   Retry-After-Ms on 429; beside them one client sends 1-item plain requests back to back. Reports the plain
   requests' p50 / p99 / max latency and statuses (the targets: p99 ≤ 2 s, no 429), the explain requests'
   statuses and latencies, and the worker's RSS before, at its peak and after.

The worker RSS is sampled every 0.1 s (the largest process under the server: the BentoML worker holding the model).
Texts are synthetic (load_service.py's word list). --json writes the figures; --repo serves another checkout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from load_service import REPO_ROOT, Tally, body_of, make_items, start_server, worker_rss_mb  # noqa: I001
from serving.process import stop_process

EXPLAIN_ITEMS, MAX_CHARS = 16, 5000


class PeakRSS:
    """Samples the worker's RSS in a thread until stopped; `peak` in MB."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid, self.peak, self.running = server_pid, 0.0, True
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()

    def sample(self) -> None:
        while self.running:
            self.peak = max(self.peak, worker_rss_mb(self.server_pid))
            time.sleep(0.1)

    def stop(self) -> float:
        self.running = False
        self.thread.join()
        return self.peak


def worst_case_body(rng: random.Random) -> bytes:
    items = make_items(EXPLAIN_ITEMS, MAX_CHARS, rng, with_parent=True)
    return body_of([item | {"explain": True} for item in items])


async def explain_client(client: httpx.AsyncClient, url: str, body: bytes, tally: Tally, deadline: float,
                         rng: random.Random) -> None:  # fmt: skip
    while time.monotonic() < deadline:
        started = time.perf_counter()
        response = await client.post(url, content=body, headers={"content-type": "application/json"})
        tally.statuses[response.status_code] += 1
        if response.status_code == 200:
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            tally.texts += EXPLAIN_ITEMS
        elif response.status_code == 429:
            await asyncio.sleep(int(response.headers["retry-after-ms"]) / 1000 * (1 + rng.random() / 2))


async def plain_client(client: httpx.AsyncClient, url: str, tally: Tally, deadline: float, rng: random.Random) -> None:
    while time.monotonic() < deadline:
        body = body_of(make_items(1, rng.randrange(200, 800), rng, with_parent=rng.random() < 0.5))
        started = time.perf_counter()
        response = await client.post(url, content=body, headers={"content-type": "application/json"})
        tally.statuses[response.status_code] += 1
        if response.status_code == 200:
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            tally.texts += 1
        await asyncio.sleep(0.05)


async def fairness(url: str, clients: int, seconds: float) -> tuple[Tally, Tally, float]:
    rng = random.Random(7)
    bodies = [worst_case_body(random.Random(n)) for n in range(clients)]
    explained, plain = Tally(), Tally()
    started = time.monotonic()
    deadline = started + seconds
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=180, limits=limits) as client:
        await asyncio.gather(
            *(explain_client(client, f"{url}/classify", body, explained, deadline, random.Random(n))
              for n, body in enumerate(bodies)),
            plain_client(client, f"{url}/classify", plain, deadline, rng),
        )  # fmt: skip
    return explained, plain, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="serve from this checkout (e.g. the old code)")
    args = parser.parse_args()
    log_path = Path(tempfile.mkdtemp(prefix="withyou-explain-")) / "server.log"
    url, process = start_server(args.bundle, log_path, [], args.repo)
    figures: dict = {}
    try:
        fresh = worker_rss_mb(process.pid)
        sampler = PeakRSS(process.pid)
        started = time.perf_counter()
        response = httpx.post(f"{url}/classify", content=worst_case_body(random.Random(0)),
                              headers={"content-type": "application/json"}, timeout=180)  # fmt: skip
        seconds = time.perf_counter() - started
        results = response.json() if response.status_code == 200 else []
        figures["alone"] = {
            "status": response.status_code,
            "seconds": round(seconds, 1),
            "seconds_per_item": round(seconds / EXPLAIN_ITEMS, 2),
            "rss_before_mb": fresh,
            "rss_peak_mb": sampler.stop(),
            "words_read_per_item": [r["explanation"]["text"]["words_read"] for r in results][:3],
            "partial": sum(1 for r in results if r["explanation"]["note"]),
        }
        print(json.dumps({"alone": figures["alone"]}), flush=True)

        before = worker_rss_mb(process.pid)
        sampler = PeakRSS(process.pid)
        explained, plain, elapsed = asyncio.run(fairness(url, args.clients, args.seconds))
        plain_ms = np.array(plain.latencies_ms or [float("nan")])
        figures["fairness"] = {
            "explain_clients": args.clients,
            "elapsed_s": round(elapsed, 1),
            "plain_requests": sum(plain.statuses.values()),
            "plain_statuses": {str(k): v for k, v in sorted(plain.statuses.items())},
            "plain_p50_ms": round(float(np.percentile(plain_ms, 50)), 1),
            "plain_p99_ms": round(float(np.percentile(plain_ms, 99)), 1),
            "plain_max_ms": round(float(plain_ms.max()), 1),
            "explain_statuses": {str(k): v for k, v in sorted(explained.statuses.items())},
            "explain_p50_s": round(float(np.percentile(explained.latencies_ms or [float("nan")], 50)) / 1000, 1),
            "rss_before_mb": before,
            "rss_peak_mb": sampler.stop(),
            "rss_after_mb": worker_rss_mb(process.pid),
        }
        print(json.dumps({"fairness": figures["fairness"]}), flush=True)
    finally:
        stop_process(process)
    print(f"server log: {log_path}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
