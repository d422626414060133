"""Real servers for the serving tests: `withyou serve` on 127.0.0.1 with the tiny bundle, in a subprocess.

`server` runs with the defaults (no API key). `configured_server` turns on what is off by default: an API key
and a /metrics token (from files), threshold overrides that send every post to review, and a review sink that
appends candidates to a JSONL file (tests/serving/jsonl_sink.py) and fails on purpose for ids starting with "fail".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from serving.process import ServerStartError, free_port, start_process, stop_process

STARTUP_TIMEOUT_S = 120
API_KEY = "test-key-0123456789"
METRICS_TOKEN = "metrics-token-0123456789"


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log_path: Path

    def classify(self, items: list[dict], **kwargs) -> httpx.Response:
        return httpx.post(f"{self.url}/classify", json={"items": items}, timeout=60, **kwargs)

    def classify_body(self, body: dict, **kwargs) -> httpx.Response:
        return httpx.post(f"{self.url}/classify", json=body, timeout=60, **kwargs)

    def log_text(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def withyou_command() -> list[str]:
    script = Path(sys.executable).with_name("withyou")
    return [str(script)] if script.exists() else [sys.executable, "-m", "orchestration.cli"]


def start_server(bundle: Path, log_path: Path, *args: str, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    clean_env = {key: value for key, value in os.environ.items() if not key.startswith("WITHYOU_")}
    command = [*withyou_command(), "serve", "--bundle", str(bundle), "--host", "127.0.0.1", "--port", str(port), *args]
    url = f"http://127.0.0.1:{port}"
    try:
        process = start_process(command, url, {**clean_env, **(env or {})}, log_path, STARTUP_TIMEOUT_S)
    except ServerStartError as exc:
        raise RuntimeError(f"{exc}:\n{log_path.read_text(encoding='utf-8', errors='replace')[-3000:]}") from None
    return Server(url, process, log_path)


def stop_server(server: Server) -> None:
    stop_process(server.process)


@pytest.fixture(scope="session")
def server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    running = start_server(tiny_bundle, log_path)
    yield running
    stop_server(running)


@dataclass
class ConfiguredServer(Server):
    sink_path: Path = Path()


@pytest.fixture(scope="session")
def configured_server(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConfiguredServer]:
    directory = tmp_path_factory.mktemp("configured_server")
    key_file = directory / "api_key"
    key_file.write_text(API_KEY + "\n", encoding="utf-8")
    token_file = directory / "metrics_token"
    token_file.write_text(METRICS_TOKEN + "\n", encoding="utf-8")
    sink_path = directory / "review.jsonl"
    running = start_server(
        tiny_bundle,
        directory / "server.log",
        "--api-key-file", str(key_file),
        "--metrics-token-file", str(token_file),
        "--review-threshold", "0.0",
        "--hide-threshold", "1.0",
        "--review-sink", "tests.serving.jsonl_sink:make_sink",
        env={"WITHYOU_TEST_SINK_FILE": str(sink_path)},
    )  # fmt: skip
    configured = ConfiguredServer(running.url, running.process, running.log_path, sink_path)
    yield configured
    stop_server(configured)


def read_sink(path: Path, ids: set[str], timeout_s: float = 10.0) -> dict[str, dict]:
    """The candidates the sink wrote for `ids`, waiting (the hand-off is asynchronous) until all have arrived."""
    deadline = time.monotonic() + timeout_s
    found: dict[str, dict] = {}
    while time.monotonic() < deadline:
        if path.exists():
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            found = {row["id"]: row for row in rows if row["id"] in ids}
            if len(found) == len(ids):
                break
        time.sleep(0.1)
    return found
