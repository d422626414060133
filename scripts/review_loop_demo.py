"""The whole review loop, end to end, in a scratch folder (never touches ./artifacts or ./mlflow):

    build (seed only) → train with retrain's --fast preset → evaluate → promote (champion v1)
    → serve it with the review queue → /classify public posts the model has never seen (as traffic)
    → a "reviewer" decides every queued item through the API with the post's mapped label (a few escalated,
      one undone and re-decided) → withyou review export → withyou retrain --fast (gate, promote or not)

Usage: .venv/bin/python scripts/review_loop_demo.py [--work /tmp/withyou-review-loop] [--posts 200]
Prints the numbers at each step and a JSON summary at the end. Needs the public datasets under ../shared/data.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
WITHYOU = str(Path(sys.executable).with_name("withyou"))
REVIEWER, REVIEWER_KEY = "alice", "alice-loop-demo-key-0123456789"


def run(args: list[str], env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    print(f"\n$ withyou {' '.join(args)}", flush=True)
    done = subprocess.run([WITHYOU, *args], env=env, cwd=REPO, text=True, capture_output=True)
    print(done.stdout[-4000:], done.stderr[-2000:], sep="\n", flush=True)
    if check and done.returncode != 0:
        raise SystemExit(f"withyou {args[0]} failed with exit code {done.returncode}")
    return done


def first_champion(env: dict[str, str]) -> None:
    """Version 1 with the same --fast preset `withyou retrain --fast` uses (orchestration/lifecycle.py train_config)."""
    code = (
        "from training.pipeline import run_training; from orchestration.lifecycle import train_config; "
        "run_training(train_config('fast', {'tags': {'trigger': 'first-champion'}}))"
    )
    print("\n$ (python) run_training(train_config('fast', ...))", flush=True)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, text=True, capture_output=True)
    print(done.stdout[-3000:], done.stderr[-1500:], sep="\n", flush=True)
    if done.returncode != 0:
        raise SystemExit("training the first champion failed")


def traffic(posts: int, seed: int = 7) -> list[dict]:
    """Labelled public posts (not in the seed-only build), balanced over labels as far as the data allows."""
    from training.adapters import ReadLog, read_source
    from training.sources import load_sources
    from withyou.paths import data_dir

    by_label: dict[str, list] = {}
    for source in load_sources(None).values():
        if not source.folder_in(data_dir()).is_dir():
            continue
        for n, record in enumerate(read_source(source, data_dir(), ReadLog())):
            if n >= 4000:
                break
            by_label.setdefault(record.label, []).append(record)
    rng = random.Random(seed)
    chosen = []
    for label, records in sorted(by_label.items()):
        chosen += rng.sample(records, min(len(records), posts // max(1, len(by_label))))
    rng.shuffle(chosen)
    return [{"id": f"traffic-{i}", "text": r.text[:5000], "parent_text": (r.parent_text or None) and r.parent_text[:5000],
             "label": r.label} for i, r in enumerate(chosen)]  # fmt: skip


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen, str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [WITHYOU, "serve", "--bundle", "models:/withyou@champion", "--port", str(port),
               "--review-sink", "review.sink:create_sink"]  # fmt: skip
    process = subprocess.Popen(command, env=env, cwd=REPO, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
                               start_new_session=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"server did not start; see {log}")


def review_everything(url: str, truth: dict[str, str]) -> dict[str, int]:
    """Decide every open item with its mapped label; escalate every 20th; undo + re-decide one."""
    api = httpx.Client(base_url=f"{url}/review/api", headers={"X-Review-Key": REVIEWER_KEY}, timeout=30)
    stats = {"decided": 0, "escalated": 0, "undone": 0, "corrected_model": 0}
    while items := api.get("/queue", params={"limit": 100}).json()["items"]:
        for item in items:
            n = stats["decided"] + stats["escalated"]
            decision = "escalate" if n % 20 == 19 else truth[item["external_id"]]
            response = api.post(f"/items/{item['id']}/decide", json={"decision": decision})
            response.raise_for_status()
            if decision == "escalate":
                stats["escalated"] += 1
                continue
            stats["decided"] += 1
            stats["corrected_model"] += decision != item["label"]
            if stats["undone"] == 0:
                api.post("/undo").raise_for_status()
                api.post(f"/items/{item['id']}/decide", json={"decision": decision}).raise_for_status()
                stats["undone"] += 1
    stats["audit_rows"] = len(api.get("/audit", params={"limit": 1000}).json())
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/withyou-review-loop"))
    parser.add_argument("--posts", type=int, default=200)
    args = parser.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    (args.work / "reviewers.json").write_text(json.dumps({REVIEWER: REVIEWER_KEY}))
    env = {key: value for key, value in os.environ.items() if not key.startswith("WITHYOU_")}
    env |= {
        "WITHYOU_ARTIFACTS": str(args.work / "artifacts"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{args.work / 'mlflow' / 'mlflow.db'}",
        "WITHYOU_REVIEW_DB": str(args.work / "review.db"),
        "WITHYOU_REVIEW_REVIEWERS_FILE": str(args.work / "reviewers.json"),
    }
    (args.work / "mlflow").mkdir()
    started = time.perf_counter()

    run(["data", "build", "--no-public"], env)
    first_champion(env)
    run(["evaluate", "challenger"], env)
    run(["promote", "1"], env)

    posts = traffic(args.posts)
    truth = {p["id"]: p["label"] for p in posts}
    process, url = start_server(env, args.work / "server.log")
    try:
        results = []
        for start in range(0, len(posts), 50):
            batch = [{k: p[k] for k in ("id", "text", "parent_text")} for p in posts[start : start + 50]]
            response = httpx.post(f"{url}/classify", json={"items": batch}, timeout=120)
            response.raise_for_status()
            results += response.json()
        to_review = sum(r["action"] != "allow" for r in results)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            counts = httpx.get(f"{url}/review/api/counts", headers={"X-Review-Key": REVIEWER_KEY}, timeout=10).json()
            if counts["pending"] >= to_review:
                break
            time.sleep(0.5)
        print(f"\nclassified {len(results)} posts; {to_review} sent to review; queue counts {counts}", flush=True)
        review = review_everything(url, truth)
        print(f"reviewed through the API: {review}", flush=True)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)

    run(["review", "export"], env)
    retrain = run(["retrain", "--fast", "--no-public"], env, check=False)
    report = sorted((args.work / "artifacts" / "retrain").glob("*.json"))
    summary = {
        "posts_classified": len(results),
        "sent_to_review": to_review,
        "review": review,
        "retrain_exit_code": retrain.returncode,
        "retrain_report": json.loads(report[-1].read_text()) if report else None,
        "minutes": round((time.perf_counter() - started) / 60, 1),
    }
    print(json.dumps(summary, indent=2))
    (args.work / "summary.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
