"""Batch scoring benchmark: `withyou score` (JSONL, Parquet), the HTTP endpoint (batches of 64, 1 and 2 workers)
and `withyou score --engine spark` (local[2]) on the same posts and model; texts/s and peak RSS of each.

    .venv/bin/python benchmarks/bench_batch.py --bundle artifacts/models/<version>/bundle [--posts 20000]
        [--only jsonl,parquet,http1,http2,spark] [--flat-memory-gb 1 --flat-memory-limit 6000] [--json out.json]

Posts are the built dataset's texts (artifacts/dataset/{train,validation,test}.jsonl), repeated with fresh ids
until there are --posts of them, written under a temporary directory and deleted afterwards: never committed.
Each engine runs in its own process tree, one after the other; peak RSS is the largest sum of RSS over that tree
(psutil, sampled every 0.5 s; for HTTP the server's tree, the client excluded). texts/s counts wall time from the
first request to the last answer (HTTP, which gets only the posts `withyou score` accepts: an over-long one
is a 400), or the job's timer after the model has loaded (score).

--flat-memory-gb writes a synthetic JSONL of that size and scores its first --flat-memory-limit rows (the whole
file is streamed through only as far as the limit), printing RSS over time: memory must not grow with the file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from serving.process import free_port, start_process, stop_process  # noqa: E402
from withyou import paths  # noqa: E402

HTTP_BATCH = 64


class RssSampler:
    """Samples the RSS of a process and its children every `interval` s; keeps the peak and a timeline."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval = pid, interval
        self.peak_mb, self.timeline = 0.0, []
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                root = psutil.Process(self.pid)
                total = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 1e6
            except psutil.Error:
                total = 0.0
            self.peak_mb = max(self.peak_mb, total)
            self.timeline.append((round(time.monotonic() - self.started, 1), round(total, 1)))
            self._stop.wait(self.interval)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


DATASET = [paths.dataset_dir()]  # --dataset replaces it


def write_posts(directory: Path, count: int) -> Path:
    rows = []
    for split in ("train", "validation", "test"):
        with open(DATASET[0] / f"{split}.jsonl", encoding="utf-8") as handle:
            rows.extend(json.loads(line) for line in handle if line.strip())
    path = directory / "posts.jsonl"
    with open(path, "w", encoding="utf-8") as out:
        for i in range(count):
            row = rows[i % len(rows)]
            out.write(json.dumps({"id": f"p{i}", "text": row["text"], "parent_text": row.get("parent_text")}) + "\n")
    return path


def to_parquet(jsonl: Path) -> Path:
    import pyarrow.json as pj
    import pyarrow.parquet as pq

    path = jsonl.with_suffix(".parquet")
    pq.write_table(pj.read_json(jsonl), path)
    return path


def withyou_cli() -> list[str]:
    return [sys.executable, "-P", "-m", "orchestration.cli"]


def run_score(name: str, source: Path, output: Path, bundle: Path, *extra: str) -> dict:
    command = [*withyou_cli(), "score", str(source), "-o", str(output), "--bundle", str(bundle), "--no-progress", *extra]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    sampler = RssSampler(process.pid)
    log, _ = process.communicate()
    peak = sampler.stop()
    if process.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{log[-3000:]}")
    summary = json.loads(Path(f"{output}.summary.json").read_text())
    return {"engine": name, "texts": summary["scored"], "texts_per_s": summary["texts_per_s"], "peak_rss_mb": round(peak),
            "wall_s": round(time.perf_counter() - started, 1), "timeline": sampler.timeline}  # fmt: skip


def run_http(name: str, source: Path, bundle: Path, workers: int, logs: Path) -> dict:
    import httpx

    from orchestration.score import Columns, check_row
    from serving.config import ServingSettings

    limit = ServingSettings.model_fields["max_text_chars"].default
    rows = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    checked = [check_row(row, Columns(), limit)[1] for row in rows]
    posts = [item for item in checked if not isinstance(item, str)]  # what `withyou score` accepts; the rest is a 400
    port = free_port()
    command = [*withyou_cli(), "serve", "--bundle", str(bundle), "--port", str(port), "--workers", str(workers)]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("WITHYOU_")}, "PYTHONPATH": str(REPO_ROOT)}
    url = f"http://127.0.0.1:{port}"
    process = start_process(command, url, env, logs / f"{name}.log", timeout_s=300)
    sampler = RssSampler(process.pid)
    try:
        batches = [posts[i : i + HTTP_BATCH] for i in range(0, len(posts), HTTP_BATCH)]
        pending = list(enumerate(batches))
        lock, scored = threading.Lock(), [0]

        def client() -> None:  # one client per worker keeps every worker busy without queueing past the batcher
            with httpx.Client(timeout=300) as http:
                while True:
                    with lock:
                        if not pending:
                            return
                        _, batch = pending.pop()
                    response = http.post(f"{url}/classify", json={"items": batch})
                    response.raise_for_status()
                    with lock:
                        scored[0] += len(response.json())

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(max(2, workers * 2))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
    finally:
        peak = sampler.stop()
        stop_process(process)
    return {"engine": name, "texts": scored[0], "texts_per_s": round(scored[0] / seconds, 1), "peak_rss_mb": round(peak),
            "wall_s": round(seconds, 1), "timeline": sampler.timeline}  # fmt: skip


def write_big_jsonl(directory: Path, gigabytes: float) -> Path:
    """A synthetic JSONL of about `gigabytes`, made of the dataset's posts repeated with fresh ids."""
    sample = [json.loads(line) for line in write_posts(directory, 5000).read_text(encoding="utf-8").splitlines()]
    path, target, written, i = directory / "big.jsonl", int(gigabytes * 1e9), 0, 0
    with open(path, "w", encoding="utf-8") as out:
        while written < target:
            row = sample[i % len(sample)]
            line = json.dumps({"id": f"b{i}", "text": row["text"], "parent_text": row["parent_text"]}) + "\n"
            out.write(line)
            written += len(line.encode("utf-8"))
            i += 1
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--only", default="jsonl,parquet,http1,http2,spark")
    parser.add_argument("--flat-memory-gb", type=float, default=0.0)
    parser.add_argument("--flat-memory-limit", type=int, default=6000)
    parser.add_argument("--dataset", type=Path, default=paths.dataset_dir(), help="built dataset to draw texts from")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    DATASET[0] = args.dataset
    bundle, wanted, results = args.bundle.resolve(), set(args.only.split(",")), []
    with tempfile.TemporaryDirectory(prefix="withyou-bench-batch-") as tmp:
        tmp = Path(tmp)
        source = write_posts(tmp, args.posts)
        runs = {
            "jsonl": lambda: run_score("score jsonl", source, tmp / "out.jsonl", bundle),
            "parquet": lambda: run_score("score parquet", to_parquet(source), tmp / "out.parquet", bundle),
            "http1": lambda: run_http("http 1 worker", source, bundle, 1, tmp),
            "http2": lambda: run_http("http 2 workers", source, bundle, 2, tmp),
            "spark": lambda: run_score("spark local[2]", source, tmp / "spark.parquet", bundle, "--engine", "spark",
                                       "--spark-master", "local[2]"),
        }  # fmt: skip
        for name, run in runs.items():
            if name in wanted:
                results.append(run())
                row = results[-1]
                print(f"{row['engine']:16} {row['texts']:>7} texts  {row['texts_per_s']:>7.1f} texts/s  "
                      f"peak RSS {row['peak_rss_mb']:>6} MB  ({row['wall_s']} s)", flush=True)  # fmt: skip
        if args.flat_memory_gb:
            big = write_big_jsonl(tmp, args.flat_memory_gb)
            size_gb = big.stat().st_size / 1e9
            row = run_score("score 1 GB jsonl", big, tmp / "big.out.jsonl", bundle, "--limit", str(args.flat_memory_limit))
            row["file_gb"] = round(size_gb, 2)
            results.append(row)
            print(f"{size_gb:.2f} GB file, first {row['texts']} rows: peak RSS {row['peak_rss_mb']} MB; RSS (s, MB) "
                  f"every ~10 s: {row['timeline'][::20]}", flush=True)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
