"""Print the import graph between the floors: arrows per pair of packages, upward/sideways imports, cycles.

    .venv/bin/python -P scripts/import_graph.py

tests/test_import_contract.py enforces the same floors (pyproject.toml [tool.importlinter]); this prints the picture.
"""

from __future__ import annotations

import collections

import grimp
import networkx

FLOORS = {"withyou": 0, "training": 1, "evaluation": 1, "serving": 1, "review": 1, "orchestration": 2}


def main() -> None:
    graph = grimp.build_graph(*FLOORS, cache_dir=None)
    arrows: collections.Counter[tuple[str, str]] = collections.Counter()
    wrong = []
    digraph = networkx.DiGraph()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            digraph.add_edge(importer, imported)
            a, b = importer.split(".")[0], imported.split(".")[0]
            if a == b:
                continue
            arrows[(a, b)] += 1
            if FLOORS[b] >= FLOORS[a]:
                wrong.append(f"{importer} -> {imported} ({'upward' if FLOORS[b] > FLOORS[a] else 'sideways'})")
    print("arrows (importer -> imported: module-level and function-level imports)")
    for (a, b), count in sorted(arrows.items(), key=lambda kv: (FLOORS[kv[0][0]], kv[0])):
        print(f"  floor {FLOORS[a]} {a:<13} -> floor {FLOORS[b]} {b:<13} {count:>3}")
    print(f"upward or sideways imports: {len(wrong)}")
    for line in wrong:
        print(f"  {line}")
    cycles = [sorted(c) for c in networkx.strongly_connected_components(digraph) if len(c) > 1]
    print(f"import cycles: {len(cycles)}")
    for cycle in cycles:
        print(f"  {' <-> '.join(cycle)}")
    modules = len(graph.modules)
    print(f"modules: {modules}")


if __name__ == "__main__":
    main()
