"""Loopback soak: 16 clients with mixed request sizes against `withyou serve` for a fixed time.

    .venv/bin/python benchmarks/soak.py --bundle artifacts/models/<version>/bundle [--minutes 10]

Clients: 10 send 1-item requests, 4 send 32-item requests, 2 send maximum-size requests (256 items, text and
parent 5,000 characters each); a client that gets 429 waits the Retry-After-Ms it was told. Reports, per size
and in total: texts/s, p50/p99 of answered requests and answers by status (5xx must be 0), plus the worker's
RSS at the start and the end (a leak shows as growth across a long run). --json writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.load_service import Tally, scenarios, start_server, worker_rss_mb, run_clients  # noqa: E402
from serving.process import stop_process  # noqa: E402

MIX = {"1-item": 10, "32-item": 4, "max-size": 2}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    seconds = args.minutes * 60
    bodies = scenarios(random.Random(13))
    log_path = Path(tempfile.mkdtemp(prefix="withyou-soak-")) / "server.log"
    url, process = start_server(args.bundle, log_path, [])
    try:
        rss_start = worker_rss_mb(process.pid)
        groups = [(clients, bodies[name][0], [bodies[name][1]] * len(bodies[name][0])) for name, clients in MIX.items()]
        tallies, elapsed = asyncio.run(run_clients(url, groups, seconds))
        rss_end = worker_rss_mb(process.pid)
    finally:
        stop_process(process)
    total = Tally()
    for tally in tallies:
        total.latencies_ms += tally.latencies_ms
        total.statuses.update(tally.statuses)
        total.texts += tally.texts
    report = {
        "minutes": args.minutes,
        "clients": sum(MIX.values()),
        "elapsed_s": round(elapsed, 1),
        "by_size": {name: tally.summary(elapsed) for name, tally in zip(MIX, tallies)},
        "total": total.summary(elapsed),
        "rss_start_mb": rss_start,
        "rss_end_mb": rss_end,
        "server_log": str(log_path),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
