"""/classify latency with pile-on counting on and off (issue 21): does thread and author counting slow answers?

    .venv/bin/python benchmarks/thread_counting.py --bundle artifacts/models/<version>/bundle [--requests 300]

One `withyou serve` with the review sink on (a SQLite store in a temporary folder, or `--db URL`), an author key
and the default pile-on rule. Phases alternate, `--rounds` times each, `--requests` requests per phase from
`--clients` clients sending back to back, each request `--items` short posts (200-800 characters, synthetic):

- off: the posts carry no `thread_id` / `author_id`: nothing is counted (only review/hide items reach the sink);
- on:  the same posts as replies in 50 threads with 200 authors: every one is counted on the hook's thread
       (hashed author, one `review_thread_replies` row, the rule checked), beside the review items.

Reports p50 / p99 / max client latency per phase, what the hook stored (replies and review items), and how long
its backlog took to drain after each phase's last answer. The counting runs after each answer on the worker's background thread, so what it
can cost /classify is CPU and the GIL it shares with the request path. --json writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from load_service import make_items, start_server  # noqa: I001
from serving.process import stop_process

THREADS, AUTHORS = 50, 200


def metric(url: str, name: str, label: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    found = re.search(rf'^{name}\{{[^}}]*="{label}"[^}}]*\}} ([0-9.e+]+)$', text, flags=re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def bodies(requests: int, items: int, counting: bool, rng: random.Random) -> list[bytes]:
    out = []
    for n in range(requests):
        posts = make_items(items, rng.randrange(200, 800), rng, with_parent=True)
        for k, post in enumerate(posts):
            post["id"] = f"r{n}-{k}"
            if counting:
                post |= {"thread_id": f"thread-{rng.randrange(THREADS)}", "author_id": f"user-{rng.randrange(AUTHORS)}"}
        out.append(json.dumps({"items": posts}).encode())
    return out


def run_phase(url: str, payloads: list[bytes], clients: int) -> list[float]:
    latencies: list[float] = []
    lock = threading.Lock()
    queue = list(payloads)

    def client() -> None:
        with httpx.Client(timeout=60) as http:
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                started = time.perf_counter()
                response = http.post(f"{url}/classify", content=body, headers={"Content-Type": "application/json"})
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code != 200:
                    raise RuntimeError(f"/classify answered {response.status_code}: {response.text[:200]}")
                with lock:
                    latencies.append(elapsed)

    workers = [threading.Thread(target=client) for _ in range(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies


def wait_drained(url: str, timeout_s: float = 300.0) -> float:
    """Seconds until the hook has handed every queued reply and review candidate to the store."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if all(
            metric(url, name, "queued") == metric(url, name, "delivered") + metric(url, name, "failed")
            for name in ("withyou_thread_replies_total", "withyou_review_candidates_total")
        ):
            return time.monotonic() - started
        time.sleep(0.1)
    raise RuntimeError("the hook did not drain its backlog in time")


def summary(latencies: list[float]) -> dict[str, float]:
    values = np.array(latencies)
    return {"requests": len(values), "p50_ms": round(float(np.percentile(values, 50)), 1),
            "p99_ms": round(float(np.percentile(values, 99)), 1), "max_ms": round(float(values.max()), 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=300, help="per phase and round")
    parser.add_argument("--items", type=int, default=1, help="posts per request")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--db", help="review store URL or SQLite path [a temporary SQLite file]")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="withyou-threads-"))
    os.environ |= {
        "WITHYOU_REVIEW_DB": args.db or str(folder / "review.db"),
        "WITHYOU_REVIEW_AUTHOR_KEY": "benchmark-author-key-0123456789abcdef",
        "WITHYOU_REVIEW_CLASSIFY_PARENTS": "false",
    }
    url, process = start_server(args.bundle.resolve(), folder / "server.log", ["--review-sink", "review.sink:create_sink"])
    rng = random.Random(21)
    latencies: dict[str, list[float]] = {"off": [], "on": []}
    try:
        run_phase(url, bodies(20, args.items, True, rng), args.clients)  # warm-up, both paths
        wait_drained(url)
        drain_s = []
        for _ in range(args.rounds):
            for phase in ("off", "on"):
                payloads = bodies(args.requests, args.items, phase == "on", rng)
                latencies[phase] += run_phase(url, payloads, args.clients)
                drain_s.append({phase: round(wait_drained(url), 2)})
        stored = metric(url, "withyou_thread_replies_total", "delivered")
        stored += metric(url, "withyou_review_candidates_total", "delivered")
        dropped = metric(url, "withyou_thread_replies_total", "dropped")
    finally:
        stop_process(process)
    figures = {
        "bundle": str(args.bundle), "items_per_request": args.items, "clients": args.clients,
        "off": summary(latencies["off"]), "on": summary(latencies["on"]),
        "stored_by_the_hook": stored, "replies_dropped": dropped, "backlog_drain_s": drain_s,
    }  # fmt: skip
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
