"""`withyou up` that trains: the process that will supervise the server never imports torch (issue 20).

A real `withyou up --fast` in a subprocess trains on the tiny dataset. Training runs in a child process, so the
`up` process maps no torch library at any time while it trains; a tiny smoke model may then be served (from its
bundle, as `challenger`) or refused by the promotion floor (the canonical disclosures), and either way the
supervising process must not hold training's memory. Run as a script (python -m
tests.orchestration.test_up_supervisor DATASET) it prints what it saw.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
import pytest

from serving.process import free_port, stop_process
from tests.serving.conftest import withyou_command

pytestmark = pytest.mark.slow
TRAIN_AND_SERVE_TIMEOUT_S = 900


@dataclass
class Watched:
    torch_in_up: bool = False
    """libtorch mapped by the `up` process at any sample."""
    torch_in_child: bool = False
    """libtorch mapped by one of its children (training ran out of process)."""
    served: bool = False
    up_rss: int = 0
    """The `up` process's RSS once it served (0 when it did not)."""
    exit_code: int | None = None
    output: str = ""


def maps_torch(process: psutil.Process) -> bool:
    try:
        return any("libtorch" in Path(m.path).name for m in process.memory_maps())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def watch_up(dataset_dir: Path, directory: Path) -> Watched:
    """Run `withyou up --fast`, sampling its process and children, until it serves or exits."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("WITHYOU_")}
    env.update(WITHYOU_ARTIFACTS=str(directory / "artifacts"), MLFLOW_TRACKING_URI=f"sqlite:///{directory / 'mlflow.db'}")
    command = [*withyou_command(), "up", "--fast", "--dataset", str(dataset_dir), "--host", "127.0.0.1", "--port", str(port)]
    log_path = directory / "up.log"
    seen = Watched()
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    up = psutil.Process(process.pid)
    deadline = time.monotonic() + TRAIN_AND_SERVE_TIMEOUT_S
    try:
        while time.monotonic() < deadline and process.poll() is None:
            seen.torch_in_up |= maps_torch(up)
            seen.torch_in_child |= any(maps_torch(child) for child in up.children(recursive=True))
            try:
                seen.served = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                seen.served = False
            if seen.served:
                seen.torch_in_up |= maps_torch(up)
                seen.up_rss = up.memory_info().rss
                break
            time.sleep(0.5)
    finally:
        stop_process(process)
    seen.exit_code = None if seen.served else process.returncode
    seen.output = log_path.read_text(encoding="utf-8", errors="replace")
    return seen


def test_up_trains_in_a_child_and_supervises_without_torch(tiny_dataset_dir, tmp_path):
    seen = watch_up(tiny_dataset_dir, tmp_path)

    assert seen.torch_in_child, f"training did not run in a child process:\n{seen.output[-2000:]}"
    assert not seen.torch_in_up, "the up process loaded torch"
    if seen.served:
        assert seen.up_rss < 400 * 2**20, f"the supervisor holds {seen.up_rss / 2**20:.0f} MiB"
    else:  # the floor refused the smoke model: one line with the numbers, nothing served
        assert seen.exit_code == 1 and "refused:" in seen.output, seen.output[-2000:]


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        print(watch_up(Path(sys.argv[1]).resolve(), Path(scratch)))
