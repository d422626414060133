"""Longer schemathesis run against a live `withyou serve` (CI runs a bounded version: tests/serving/test_fuzz.py).

    .venv/bin/python benchmarks/fuzz_service.py --bundle artifacts/models/<version>/bundle [--max-examples 500]

Starts the server on loopback, runs the `schemathesis` CLI on its /docs.json (every operation; coverage and
fuzzing phases, positive and negative data; default checks: no 5xx, status codes, content types and bodies as
documented), prints schemathesis' summary and exits with its code. The server log is kept for inspection.
tests/serving/schemathesis_hooks.py keeps generated requests within the explanation cap, which the spec states in
words only.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.load_service import start_server  # noqa: E402
from serving.process import stop_process  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bundle", type=Path, required=True)
    parser.add_argument("--max-examples", type=int, default=500, help="per operation and phase")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    log_path = Path(tempfile.mkdtemp(prefix="withyou-fuzz-")) / "server.log"
    url, process = start_server(args.bundle, log_path, [])
    command = [str(Path(sys.executable).with_name("schemathesis")), "run", f"{url}/docs.json",
               "--max-examples", str(args.max_examples)]  # fmt: skip
    if args.seed is not None:
        command += ["--seed", str(args.seed)]
    try:
        path = os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))
        env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.serving.schemathesis_hooks", "PYTHONPATH": path}
        code = subprocess.run(command, env=env).returncode
    finally:
        stop_process(process)
    print(f"server log: {log_path}")
    sys.exit(code)


if __name__ == "__main__":
    main()
