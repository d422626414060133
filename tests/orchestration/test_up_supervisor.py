"""`withyou up` that trains and then serves: the process supervising the server never imported torch (issue 20).

A real `withyou up --fast` in a subprocess trains on the tiny dataset and serves on loopback; once /readyz answers,
the `up` process (which supervises `bentoml serve`) must map no torch library and hold far less than training's
memory. Run as a script (python -m tests.orchestration.test_up_supervisor DATASET) it prints the supervisor's RSS.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import psutil
import pytest

from serving.process import free_port, start_process, stop_process
from tests.serving.conftest import withyou_command

pytestmark = pytest.mark.slow
TRAIN_AND_SERVE_TIMEOUT_S = 900


def supervisor_after_up(dataset_dir: Path, directory: Path) -> tuple[bool, int]:
    """Run `withyou up --fast` until it serves; return (torch mapped in the up process, its RSS in bytes)."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("WITHYOU_")}
    env.update(WITHYOU_ARTIFACTS=str(directory / "artifacts"), MLFLOW_TRACKING_URI=f"sqlite:///{directory / 'mlflow.db'}")
    command = [*withyou_command(), "up", "--fast", "--dataset", str(dataset_dir), "--host", "127.0.0.1", "--port", str(port)]
    process = start_process(command, f"http://127.0.0.1:{port}", env, directory / "up.log", TRAIN_AND_SERVE_TIMEOUT_S)
    try:
        supervisor = psutil.Process(process.pid)
        torch_mapped = any("libtorch" in Path(m.path).name for m in supervisor.memory_maps())
        return torch_mapped, supervisor.memory_info().rss
    finally:
        stop_process(process)


def test_up_serves_from_a_process_that_never_imported_torch(tiny_dataset_dir, tmp_path):
    torch_mapped, rss = supervisor_after_up(tiny_dataset_dir, tmp_path)
    assert not torch_mapped, "the process supervising the server has torch loaded"
    assert rss < 400 * 2**20, f"the supervisor holds {rss / 2**20:.0f} MiB"


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        mapped, resident = supervisor_after_up(Path(sys.argv[1]).resolve(), Path(scratch))
        print(f"torch mapped in the up process: {mapped}; its RSS: {resident / 2**20:.0f} MiB")
