"""/metrics size before and after N requests to random paths, on `withyou serve` over loopback (issue 22).

    .venv/bin/python benchmarks/metrics_growth.py --bundle B [--requests 10000] [--repo CHECKOUT]

Sends GET requests to paths no route knows — /review/<random>, /<random>, and some whose decoded path holds an
escape byte or U+202E — from 8 concurrent clients, then prints the size of /metrics in bytes and its number of
series before and after, and how long the scrape took. With route-template labels (serving/metrics.py) the size
stays flat; BentoML's own series, labelled by the raw path, grew with every new path. `--repo` serves another
checkout (the code before the change, say) with this script's client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.load_service import start_server  # noqa: E402
from serving.process import stop_process  # noqa: E402

CLIENTS = 8
SHAPES = ("/review/{}", "/{}", "/{}/deeper", "/%1b[2J{}", "/%E2%80%AE{}")


def scrape(url: str) -> dict:
    started = time.perf_counter()
    text = httpx.get(f"{url}/metrics", timeout=60).text
    samples = [line for line in text.splitlines() if line and not line.startswith("#")]
    return {
        "bytes": len(text.encode("utf-8")),
        "series": len(samples),
        "bentoml_series": sum(line.startswith("bentoml_") for line in samples),
        "scrape_ms": round((time.perf_counter() - started) * 1000, 1),
    }


async def random_requests(url: str, count: int) -> dict[int, int]:
    """`count` GETs to random unknown paths; answers by status."""
    statuses: dict[int, int] = {}
    paths = iter([SHAPES[n % len(SHAPES)].format(uuid.uuid4().hex) for n in range(count)])

    async def client(http: httpx.AsyncClient) -> None:
        for path in paths:
            status = (await http.get(path)).status_code
            statuses[status] = statuses.get(status, 0) + 1

    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return statuses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help="serve from this checkout (e.g. the old code)")
    args = parser.parse_args()
    log_path = Path(tempfile.mkdtemp(prefix="withyou-metrics-")) / "server.log"
    url, process = start_server(args.bundle, log_path, [], args.repo)
    try:
        before = scrape(url)
        started = time.perf_counter()
        statuses = asyncio.run(random_requests(url, args.requests))
        seconds = time.perf_counter() - started
        after = scrape(url)
    finally:
        stop_process(process)
    print(json.dumps({"repo": str(args.repo), "requests": args.requests, "seconds": round(seconds, 1),
                      "statuses": statuses, "before": before, "after": after}))  # fmt: skip


if __name__ == "__main__":
    main()
