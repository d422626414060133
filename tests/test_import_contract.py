"""The floors hold: orchestration → stages → core, never upward or sideways, and no import cycles.

The layer contract lives in pyproject.toml ([tool.importlinter]); `scripts/import_graph.py` prints the arrows.
"""

from __future__ import annotations

import graphlib
import subprocess
import sys
from pathlib import Path

import grimp

from withyou.paths import REPO_ROOT

PACKAGES = ("withyou", "training", "evaluation", "serving", "orchestration")


def test_no_upward_or_sideways_import_between_floors():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--no-cache"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "1 kept, 0 broken" in result.stdout


def test_no_import_cycles_between_modules():
    """Function-level imports count too: a cycle hidden in a function still ties two modules together."""
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    sorter = graphlib.TopologicalSorter({m: graph.find_modules_directly_imported_by(m) for m in graph.modules})
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_the_core_imports_no_stage_even_lazily():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    upward = {
        (importer, imported)
        for importer in graph.find_children("withyou") | {"withyou"}
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.split(".")[0] != "withyou"
    }
    assert not upward
