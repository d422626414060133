"""`datasets/` and `mlflow/` are data folders: they must never shadow the libraries of those names."""

from __future__ import annotations

import json
import subprocess
import sys

from withyou.paths import REPO_ROOT

PROBE = """
import importlib.util, json
out = {}
for name in ("mlflow", "datasets"):
    spec = importlib.util.find_spec(name)
    out[name] = None if spec is None else {
        "origin": spec.origin, "locations": list(spec.submodule_search_locations or [])}
print(json.dumps(out))
"""


def test_data_folders_are_not_python_packages():
    assert not (REPO_ROOT / "datasets" / "__init__.py").exists()
    assert not (REPO_ROOT / "mlflow" / "__init__.py").exists()


def probe(*flags: str) -> dict:
    """Resolve both names in a fresh interpreter started in the repository root."""
    result = subprocess.run(
        [sys.executable, *flags, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def inside_repo_folder(spec: dict | None) -> bool:
    if spec is None:
        return False
    paths = [p for p in [spec["origin"], *spec["locations"]] if p]
    return any(p.startswith(str(REPO_ROOT / name)) for p in paths for name in ("datasets", "mlflow"))


def test_mlflow_resolves_to_the_installed_library_even_from_the_repo_root():
    found = probe()
    assert found["mlflow"] is not None and "site-packages" in found["mlflow"]["origin"]


def test_neither_name_resolves_to_a_repo_folder_the_way_the_cli_runs():
    """Console scripts (.venv/bin/withyou, .venv/bin/pytest) do not put the working directory on sys.path;
    -P (safe path) starts the interpreter the same way. `python -m …` from the repo root does put it there,
    and then an uninstalled `datasets` resolves to the data folder as a namespace package (see datasets/README.md).
    """
    found = probe("-P")
    assert not inside_repo_folder(found["mlflow"]) and not inside_repo_folder(found["datasets"]), found
