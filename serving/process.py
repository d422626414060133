"""A server process on loopback: start it, wait until /readyz answers 200, stop it and its workers.

Shared by the serving tests (tests/serving/conftest.py) and benchmarks/bench_serving.py, which both run real
`bentoml serve` processes. The process gets its own session, so stopping it can kill the workers it forked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx


class ServerStartError(RuntimeError):
    """The server exited, or was not ready in time (it has then been stopped)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_process(
    command: list[str], url: str, env: dict[str, str], log_path: Path, timeout_s: float
) -> subprocess.Popen:
    """Run `command` with stdout and stderr in `log_path`; return once `url`/readyz answers 200."""
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerStartError(f"{command[0]} exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    stop_process(process)
    raise ServerStartError(f"server not ready after {timeout_s} s")


def stop_process(process: subprocess.Popen) -> None:
    """SIGTERM the BentoML arbiter (it stops its workers); SIGKILL the process group if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)
