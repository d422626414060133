"""Serving never imports torch or transformers: checked in a fresh interpreter and in the running server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psutil

CHECK = """
import json, sys
import serving.service as service
instance = service.WithYou.inner()
instance.classify([service.ClassifyItem(text="hello")])
print(json.dumps({name: name in sys.modules for name in ("torch", "transformers", "onnxruntime", "bentoml")}))
"""


def test_loading_the_service_and_classifying_imports_no_torch(tiny_bundle: Path):
    env = {**os.environ, "WITHYOU_BUNDLE": str(tiny_bundle)}
    completed = subprocess.run([sys.executable, "-c", CHECK], env=env, capture_output=True, text=True, timeout=120)

    assert completed.returncode == 0, completed.stderr[-2000:]
    loaded = json.loads(completed.stdout.strip().splitlines()[-1])
    assert loaded == {"torch": False, "transformers": False, "onnxruntime": True, "bentoml": True}


def test_running_server_has_no_torch_library_mapped(server):
    workers = psutil.Process(server.process.pid).children(recursive=True)
    assert workers, "the BentoML arbiter has no worker processes"

    arbiter = psutil.Process(server.process.pid)
    maps = {process.pid: {m.path for m in process.memory_maps()} for process in [arbiter, *workers]}

    assert any("onnxruntime" in path for process in workers for path in maps[process.pid])
    assert [path for paths in maps.values() for path in paths if "/torch/" in path or "libtorch" in path] == []
