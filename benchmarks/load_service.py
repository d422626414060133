"""Overload table: 16 clients sending 1-item, 32-item and maximum-size requests to `withyou serve`, on loopback.

    .venv/bin/python benchmarks/load_service.py --bundle artifacts/models/<version>/bundle [--seconds 20]

Maximum-size = 256 items whose text and parent are both 5,000 characters (2.5 MB of JSON), the largest request
the input limits allow. Each scenario runs `--seconds` with 16 clients; a client that gets 429 waits the
Retry-After-Ms it was given and tries again. A probe client sends 1-item requests during the maximum-size
scenario, to show small requests are not stuck behind giant ones. Texts are synthetic (a word list): the cost
of a post depends on its length, and no corpus text has to be copied anywhere.

Prints, per scenario: texts/s, p50/p99 of answered requests, counts by status (429s; 503s must be 0), and the
worker's RSS before and after (psutil). --json writes the figures. Importable: benchmarks/soak.py reuses it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from serving.process import free_port, start_process, stop_process  # noqa: E402

WORDS = (
    "she told me what happened at the party last week and nobody believed her when she said he kept following "
    "us home after work so we reported it to the manager who laughed it off you are not alone thank you for "
    "sharing this took courage the meeting ran late again and the bus was slow"
).split()
MAX_ITEMS, MAX_CHARS = 256, 5000
CLIENTS = 16


def synthetic_text(chars: int, rng: random.Random) -> str:
    words, size = [], 0
    while size < chars:
        word = rng.choice(WORDS)
        words.append(word)
        size += len(word) + 1
    return " ".join(words)[:chars]


def make_items(count: int, chars: int, rng: random.Random, with_parent: bool = False) -> list[dict]:
    return [
        {"id": f"i{n}", "text": synthetic_text(chars, rng)}
        | ({"parent_text": synthetic_text(chars, rng)} if with_parent else {})
        for n in range(count)
    ]


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    texts: int = 0

    def summary(self, seconds: float) -> dict:
        answered = np.array(self.latencies_ms) if self.latencies_ms else np.array([float("nan")])
        return {
            "requests_ok": len(self.latencies_ms),
            "texts_per_s": round(self.texts / seconds, 1),
            "p50_ms": round(float(np.percentile(answered, 50)), 1),
            "p99_ms": round(float(np.percentile(answered, 99)), 1),
            "status_counts": {str(code): n for code, n in sorted(self.statuses.items())},
        }


async def client_loop(client: httpx.AsyncClient, url: str, bodies: list[bytes], items: list[int],
                      tally: Tally, deadline: float, rng: random.Random) -> None:  # fmt: skip
    """Send requests until the deadline; on 429 wait Retry-After-Ms (plus jitter) and send again."""
    while time.monotonic() < deadline:
        choice = rng.randrange(len(bodies))
        started = time.perf_counter()
        try:
            response = await client.post(url, content=bodies[choice], headers={"content-type": "application/json"})
        except httpx.HTTPError as exc:
            tally.statuses[type(exc).__name__] += 1
            continue
        tally.statuses[response.status_code] += 1
        if response.status_code == 200:
            tally.latencies_ms.append((time.perf_counter() - started) * 1000)
            tally.texts += items[choice]
        elif response.status_code == 429:
            wait_ms = int(response.headers.get("retry-after-ms", "100"))
            await asyncio.sleep(wait_ms / 1000 * (1 + rng.random() / 2))


async def run_clients(
    url: str, groups: list[tuple[int, list[bytes], list[int]]], seconds: float
) -> tuple[list[Tally], float]:
    """`groups`: (clients, request bodies, items per body). One Tally per group, and the seconds until the last
    answer (clients send for `seconds`, then wait for the answers in flight: rates use this elapsed time)."""
    started = time.monotonic()
    deadline = started + seconds
    tallies = [Tally() for _ in groups]
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        tasks = [
            client_loop(client, f"{url}/classify", bodies, items, tally, deadline, random.Random(n * 100 + c))
            for n, ((clients, bodies, items), tally) in enumerate(zip(groups, tallies))
            for c in range(clients)
        ]
        await asyncio.gather(*tasks)
    return tallies, time.monotonic() - started


def body_of(items: list[dict]) -> bytes:
    return json.dumps({"items": items}).encode()


def scenarios(rng: random.Random) -> dict[str, tuple[list[bytes], int]]:
    """name → (request bodies, items per request). Short posts: 200-800 characters, half with a parent."""
    one = [body_of(make_items(1, rng.randrange(200, 800), rng, with_parent=n % 2 == 0)) for n in range(32)]
    batch = [body_of(make_items(32, rng.randrange(200, 800), rng, with_parent=n % 2 == 0)) for n in range(8)]
    giant = [body_of(make_items(MAX_ITEMS, MAX_CHARS, rng, with_parent=True))]
    return {"1-item": (one, 1), "32-item": (batch, 32), "max-size": (giant, MAX_ITEMS)}


def worker_rss_mb(server_pid: int) -> float:
    """RSS of the largest process under the server (the BentoML worker holding the model), in MB."""
    children = psutil.Process(server_pid).children(recursive=True)
    return round(max((child.memory_info().rss for child in children), default=0) / 1e6, 1)


def start_server(bundle: Path, log_path: Path, extra: list[str], repo: Path = REPO_ROOT) -> tuple[str, object]:
    port = free_port()
    command = [sys.executable, "-m", "orchestration.cli", "serve", "--bundle", str(bundle), "--port", str(port), *extra]
    env = {**os.environ, "PYTHONPATH": str(repo)}
    url = f"http://127.0.0.1:{port}"
    # In `repo`: `python -m` puts the working directory first on sys.path, ahead of PYTHONPATH.
    return url, start_process(command, url, env, log_path, timeout_s=180, cwd=repo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=20.0, help="per scenario")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--serve-arg", action="append", default=[], help="extra `withyou serve` argument")
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="serve from this checkout (e.g. the old code)")
    args = parser.parse_args()
    rng = random.Random(13)
    log_path = Path(tempfile.mkdtemp(prefix="withyou-load-")) / "server.log"
    url, process = start_server(args.bundle, log_path, args.serve_arg, args.repo)
    rows = []
    try:
        for name, (bodies, items) in scenarios(rng).items():
            before = worker_rss_mb(process.pid)
            groups = [(CLIENTS, bodies, [items] * len(bodies))]
            if name == "max-size":
                probe_bodies, _ = scenarios(random.Random(1))["1-item"]
                groups.append((1, probe_bodies, [1] * len(probe_bodies)))
            tallies, elapsed = asyncio.run(run_clients(url, groups, args.seconds))
            row = {"scenario": name, "clients": CLIENTS, "elapsed_s": round(elapsed, 1), **tallies[0].summary(elapsed),
                   "rss_before_mb": before, "rss_after_mb": worker_rss_mb(process.pid)}  # fmt: skip
            if len(tallies) > 1:
                row["probe_1_item"] = tallies[1].summary(elapsed)
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        stop_process(process)
    print(f"server log: {log_path}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
