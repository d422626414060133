"""A server process on loopback: start it, wait until /readyz answers 200, stop it and every process under it.

Shared by the serving tests (tests/serving/conftest.py) and benchmarks/bench_serving.py, which both run real
`bentoml serve` processes. Stopping reaches the whole process tree, not only the process group: BentoML's workers
can live outside the group of the process that started them, and a worker whose arbiter died (`kill -9`) would
otherwise be reparented to init and keep running.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import psutil


class ServerStartError(RuntimeError):
    """The server exited, or was not ready in time (it has then been stopped)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_process(
    command: list[str], url: str, env: dict[str, str], log_path: Path, timeout_s: float, cwd: Path | None = None
) -> subprocess.Popen:
    """Run `command` (in `cwd`) with stdout and stderr in `log_path`; return once `url`/readyz answers 200."""
    with open(log_path, "wb") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True
        )
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
    """SIGTERM the server (BentoML's arbiter stops its workers); SIGKILL whatever of its tree lingers."""
    tree = descendants(process)  # listed while the parent lives: once it is gone, its orphans cannot be found
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pass
    kill_tree(process, tree)


def kill_process(process: subprocess.Popen) -> None:
    """`kill -9` of a whole server: SIGKILL the process, its process group and every descendant at once."""
    kill_tree(process, descendants(process))


def descendants(process: subprocess.Popen) -> list[psutil.Process]:
    try:
        return psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def kill_tree(process: subprocess.Popen, tree: list[psutil.Process]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for child in tree:
        try:
            child.kill()  # psutil checks the pid still belongs to the same process (no pid-reuse accident)
        except psutil.NoSuchProcess:
            pass
    process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while any(is_alive(child) for child in tree) and time.monotonic() < deadline:
        time.sleep(0.05)


def is_alive(process: psutil.Process) -> bool:
    """Running, or stopped; not gone and not a zombie (an exited process its parent has not reaped yet)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
