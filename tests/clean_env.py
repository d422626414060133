"""Clean virtual environments for the deployable tests: built from one requirements file and nothing else.

uv (the `dev` extra) creates the environment from the interpreter running the tests (same Python version, none of
its packages) and installs the file's requirements from PyPI through its wheel cache (~/.cache/uv, or UV_CACHE_DIR):
a few seconds once the cache holds the wheels, where `python -m venv` + pip took ~45 s for the pyfunc set.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

INSTALL_TIMEOUT_S = 900  # a cold cache downloads ~800 MB (mlflow's dependencies) once


def uv() -> str:
    script = Path(sys.executable).with_name("uv")
    if not script.exists():
        raise RuntimeError("uv is missing from the test environment: pip install -e '.[dev]' (scripts/setup.sh)")
    return str(script)


def clean_venv(requirements: Path, directory: Path) -> Path:
    """A virtual environment at `directory` holding only `requirements`; returns its python. Prints how long it took."""
    started = time.perf_counter()
    subprocess.run([uv(), "venv", "--quiet", "--python", sys.executable, str(directory)], check=True)
    python = directory / "bin" / "python"
    completed = subprocess.run(
        [uv(), "pip", "install", "--quiet", "--python", str(python), "-r", str(requirements)],
        capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
    )  # fmt: skip
    if completed.returncode != 0:
        raise RuntimeError(f"installing {requirements} failed:\n{completed.stderr[-3000:]}")
    print(f"clean venv from {requirements.name}: {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return python


def installed(python: Path) -> set[str]:
    """Normalised names of the distributions installed in `python`'s environment."""
    listing = subprocess.run([uv(), "pip", "list", "--python", str(python), "--format", "freeze"],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {line.split("==")[0].lower().replace("_", "-") for line in listing.splitlines() if "==" in line}
