"""Console output of `withyou data build`: progress for the long steps and a summary read from the manifest.

The label × source table comes first because it is the table that shows shortcut risks: a label that comes from
one source only lets a model learn the source (its platform, its style) instead of the label.
Only counts, ids, file:line locations and reasons are printed — never post text.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from withyou.labels import LABELS


class Steps:
    """One rich progress bar per long step; a silent no-op without a console (library use, tests)."""

    def __init__(self, console: Console | None) -> None:
        self.console = console
        self.timings: dict[str, float] = {}

    @contextmanager
    def task(self, description: str, total: int | None = None) -> Iterator[Callable[[int], None]]:
        """A progress bar for one step; its wall time lands in `timings` (seconds, for the manifest)."""
        started = time.perf_counter()
        try:
            yield from self._bar(description, total)
        finally:
            self.timings[description] = round(time.perf_counter() - started, 2)

    def _bar(self, description: str, total: int | None) -> Iterator[Callable[[int], None]]:
        if self.console is None:
            yield lambda n=1: None
            return
        columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=self.console) as progress:
            task = progress.add_task(description, total=total)
            yield lambda n=1: progress.advance(task, n)
            done = max(progress.tasks[0].completed, 1)
            progress.update(task, total=done, completed=done)


def label_source_totals(counts: dict) -> tuple[list[str], dict[tuple[str, str], int]]:
    totals: Counter[tuple[str, str]] = Counter()
    for by_label in counts.values():
        for label, by_source in by_label.items():
            for source, n in by_source.items():
                totals[(label, source)] += n
    sources = sorted({source for _, source in totals}, key=lambda s: (s != "seed", s))
    return sources, totals


def label_source_table(manifest: dict) -> Table:
    sources, totals = label_source_totals(manifest["counts"])
    table = Table(title="rows per label × source (all splits)")
    table.add_column("label")
    for source in sources:
        table.add_column(source, justify="right")
    table.add_column("total", justify="right", style="bold")
    for label in LABELS:
        row = [totals.get((label, s), 0) for s in sources]
        table.add_row(label, *[str(n) if n else "·" for n in row], str(sum(row)))
    column_totals = [sum(totals.get((label, s), 0) for label in LABELS) for s in sources]
    table.add_row("total", *map(str, column_totals), str(sum(column_totals)), style="bold")
    return table


def split_table(manifest: dict) -> Table:
    sources, _ = label_source_totals(manifest["counts"])
    table = Table(title="rows per split × label × source")
    table.add_column("split")
    table.add_column("label")
    for source in sources:
        table.add_column(source, justify="right")
    table.add_column("total", justify="right", style="bold")
    for split, by_label in manifest["counts"].items():
        for label in LABELS:
            row = [by_label.get(label, {}).get(s, 0) for s in sources]
            table.add_row(split, label, *[str(n) if n else "·" for n in row], str(sum(row)))
        table.add_section()
    return table


def print_skips(console: Console, manifest: dict) -> None:
    skipped = {path: s for path, s in manifest["skipped"].items() if s["skipped"]}
    if not skipped:
        console.print("skipped rows: none")
    for path, info in skipped.items():
        reasons = ", ".join(f"{reason} × {n}" for reason, n in info["reasons"].items())
        console.print(f"[yellow]skipped {info['skipped']} row(s)[/] in {path}: {reasons}")
        for example in info["examples"]:
            console.print(escape(f"    {example}"))
    if manifest["duplicate_ids_skipped"]:
        console.print(f"[yellow]skipped {manifest['duplicate_ids_skipped']} record(s) with a duplicate id[/]")
    for source, reasons in manifest["excluded"].items():
        console.print(escape(f"excluded by the {source} mapping: " + ", ".join(f"{r} × {n}" for r, n in reasons.items())))


def print_summary(console: Console, manifest: dict) -> None:
    rows = manifest["rows"]
    console.print(label_source_table(manifest))
    console.print(split_table(manifest))
    dup = manifest["duplicates_removed"]
    console.print(
        f"duplicates removed: exact {dup['exact']}, near {dup['near']}, conflicting labels {dup['conflicting']} "
        f"(near-identical texts with different labels kept: {dup['near_label_disagreements']})"
    )
    for source, labels in manifest["capped"].items():
        parts = [f"{label} {c['cap']} of {c['available']}" for label, c in labels.items()]
        console.print(f"capped {source}: " + ", ".join(parts))
    print_skips(console, manifest)
    for source, n in manifest.get("noncommercial_excluded", {}).items():
        console.print(f"left out {n} non-commercial row(s) of {source} (--exclude-noncommercial)")
    for source, info in manifest.get("benchmarks", {}).items():
        labels = ", ".join(f"{label} {n}" for label, n in info["labels"].items())
        console.print(f"benchmark (never trained on) {source}: {info['rows']} rows ({labels}) → {info['path']}")
    for source, n in manifest.get("benchmark_overlap_removed", {}).items():
        console.print(f"dropped {n} {source} training row(s) whose text or parent is a graded benchmark post")
    for risk in manifest["shortcut_risks"]:
        console.print(f"[bold red]shortcut risk[/] {risk}")
    console.print(
        f"[green]built[/] {sum(rows.values())} rows (train {rows['train']} / validation {rows['validation']} / "
        f"test {rows['test']}) → {manifest['config']['out_dir']} in {manifest['elapsed_seconds']} s; "
        f"content_hash {manifest['content_hash'][:16]}…"
    )
