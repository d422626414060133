"""The floors hold: orchestration → stages → core, never upward or sideways, and no import cycles.

The layer contract lives in pyproject.toml ([tool.importlinter]); `scripts/import_graph.py` prints the arrows.
The review app (review/) is a stage beside serving/: the classifier service reaches it only through the entry
points named in its settings (`review_sink`, `review_app`), loaded by name in serving/hooks.py.
"""

from __future__ import annotations

import ast
import graphlib
import re
import subprocess
import sys
from pathlib import Path

import grimp

from withyou.paths import REPO_ROOT

PACKAGES = ("withyou", "training", "evaluation", "serving", "review", "orchestration")
REVIEW_REFERENCE = re.compile(r"^(serving\.)?review\.[\w.]*:\w+$")  # a string that is a 'module:attr' entry point


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


def test_serving_and_review_import_nothing_of_each_other_even_lazily():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    arrows = {
        (importer, imported)
        for a, b in (("serving", "review"), ("review", "serving"))
        for importer in graph.find_children(a) | {a} | graph.find_descendants(a)
        for imported in graph.find_modules_directly_imported_by(importer)
        if imported.split(".")[0] == b
    }
    assert not arrows


def test_serving_names_review_only_in_its_entry_point_settings():
    """The only review entry points serving's code holds as strings are the settings' `review_app` default and the
    old sink name kept for old settings (and where it moved); each resolves to a callable of review/."""
    import importlib

    from serving.config import ServingSettings
    from serving.hooks import MOVED_ENTRY_POINTS

    named = {
        (path.name, node.value)
        for path in (REPO_ROOT / "serving").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and REVIEW_REFERENCE.match(node.value)
    }
    default_app = ServingSettings.model_fields["review_app"].default
    assert named == {
        ("config.py", default_app),
        ("hooks.py", "serving.review.sink:create_sink"),
        ("hooks.py", "review.sink:create_sink"),
    }
    for ref in (default_app, *MOVED_ENTRY_POINTS.values()):
        module, _, attr = ref.partition(":")
        assert callable(getattr(importlib.import_module(module), attr))
