"""One list of serving requirements: pyproject.toml's core dependencies plus the `serve` extra.

bentofile.yaml's python.packages and withyou/pyfunc.py's PIP_REQUIREMENTS are copies of pyproject.toml's lines, and
every third-party module that the files a deployable ships import (at any depth: a function-level `import mlflow`
runs in production too) is declared for it. `.venv/bin/python -m tests.test_requirements` prints the scan.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import yaml

from withyou.paths import REPO_ROOT
from withyou.pyfunc import PIP_REQUIREMENTS

FIRST_PARTY = {"withyou", "training", "evaluation", "serving", "review", "orchestration"}
PYPROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
BENTOFILE = yaml.safe_load((REPO_ROOT / "bentofile.yaml").read_text(encoding="utf-8"))
PYFUNC_SHIPS = ["withyou/*.py", "serving/pyfunc.py"]  # code/withyou + the model code (withyou/pyfunc.py)


def distribution_name(requirement: str) -> str:
    """'psycopg[binary]>=3.2' -> 'psycopg'; names compared as PEP 503 normalises them."""
    name = re.match(r"[A-Za-z0-9._-]+", requirement).group(0)
    return re.sub(r"[-_.]+", "-", name).lower()


def serving_set() -> list[str]:
    """The core dependencies, then the `serve` extra's lines that the core does not already name."""
    core = PYPROJECT["dependencies"]
    names = {distribution_name(r) for r in core}
    return core + [r for r in PYPROJECT["optional-dependencies"]["serve"] if distribution_name(r) not in names]


def shipped_files(include: list[str], exclude: list[str] = ()) -> list[Path]:
    excluded = {path for pattern in exclude for path in REPO_ROOT.glob(pattern)}
    found = {path for pattern in include if pattern.endswith(".py") for path in REPO_ROOT.glob(pattern)}
    return sorted(found - excluded)


def third_party_imports(path: Path) -> set[str]:
    """Top-level names of the non-stdlib, non-WithYou modules `path` imports anywhere in its body."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in FIRST_PARTY and n != "__future__"}


def undeclared(files: list[Path], requirements: list[str]) -> dict[str, list[str]]:
    """{module: [files importing it]} for each imported module no declared distribution provides."""
    declared = {distribution_name(r) for r in requirements}
    providers = importlib.metadata.packages_distributions()
    missing: dict[str, list[str]] = {}
    for path in files:
        for module in third_party_imports(path):
            if not declared & {distribution_name(d) for d in providers.get(module, [])}:
                missing.setdefault(module, []).append(str(path.relative_to(REPO_ROOT)))
    return missing


def scan_table(files: list[Path]) -> list[str]:
    """One line per imported module: the distributions that provide it and the files that import it."""
    providers = importlib.metadata.packages_distributions()
    importers: dict[str, list[str]] = {}
    for path in files:
        for module in third_party_imports(path):
            importers.setdefault(module, []).append(str(path.relative_to(REPO_ROOT)))
    return [f"{module:18} {','.join(sorted(set(providers.get(module, ['?'])))):38} {' '.join(sorted(importers[module]))}"
            for module in sorted(importers)]  # fmt: skip


def test_bentofile_packages_are_the_serving_set():
    assert BENTOFILE["python"]["packages"] == serving_set()


def test_pyfunc_requirements_are_the_core_dependencies_plus_pandas():
    pandas = [r for r in PYPROJECT["optional-dependencies"]["spark"] if distribution_name(r) == "pandas"]
    assert PIP_REQUIREMENTS == PYPROJECT["dependencies"] + pandas


def test_serving_set_has_no_training_library():
    names = {distribution_name(r) for r in serving_set() + PIP_REQUIREMENTS}
    assert names.isdisjoint({"torch", "transformers", "onnx", "scikit-learn", "onnxscript"})


def test_every_module_the_bento_ships_imports_is_declared():
    files = shipped_files(BENTOFILE["include"], BENTOFILE["exclude"])
    assert REPO_ROOT / "serving" / "service.py" in files and REPO_ROOT / "withyou" / "language.py" in files
    assert undeclared(files, serving_set()) == {}


def test_every_module_the_pyfunc_model_ships_imports_is_declared():
    files = shipped_files(PYFUNC_SHIPS)
    assert undeclared(files, PIP_REQUIREMENTS + ["mlflow"]) == {}  # MLflow writes its own mlflow==<version> line


def test_the_scan_sees_a_function_level_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom . import x\n\ndef f():\n    import py3langid.langid\n", encoding="utf-8")
    assert third_party_imports(module) == {"py3langid"}


if __name__ == "__main__":
    print("Bento (bentofile.yaml include/exclude) vs pyproject core + serve:")
    print("\n".join(scan_table(shipped_files(BENTOFILE["include"], BENTOFILE["exclude"]))))
    print("undeclared:", undeclared(shipped_files(BENTOFILE["include"], BENTOFILE["exclude"]), serving_set()))
    print("\npyfunc model (code/withyou + serving/pyfunc.py) vs PIP_REQUIREMENTS + mlflow:")
    print("\n".join(scan_table(shipped_files(PYFUNC_SHIPS))))
    print("undeclared:", undeclared(shipped_files(PYFUNC_SHIPS), PIP_REQUIREMENTS + ["mlflow"]))
