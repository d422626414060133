"""CLI commands of the training stage (registered into the `withyou` app by orchestration/cli.py).

`withyou data …` lives in `data_app` below. Model commands (train, export, promote) are added by `register`
next to it. Module level imports typer only; everything heavy loads inside the command that needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from training.config import BuildConfig

B = BuildConfig()
"""`withyou data build`'s defaults, declared once in training/config.py."""

data_app = typer.Typer(
    name="data",
    help="Public datasets and the built training dataset: list, pull, build.",
    no_args_is_help=True,
)

DataDirOption = Annotated[
    Optional[Path],
    typer.Option("--data-dir", help="Public datasets folder [default: $WITHYOU_DATA_DIR or ../shared/data]"),
]
SourcesFileOption = Annotated[
    Optional[Path], typer.Option("--sources-file", help="Sources table [default: datasets/sources.toml]")
]


def fail(message: str) -> None:
    """Print a one-line error (no traceback) and exit 1."""
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


@data_app.command("list")
def list_sources(data_dir: DataDirOption = None, sources_file: SourcesFileOption = None) -> None:
    """Show the public datasets: in the data directory?, licence, non-commercial rows, held-out benchmark splits,
    languages, opt-in set."""
    from rich.console import Console
    from rich.table import Table

    from training.sources import load_sources, present_files
    from withyou.paths import data_dir as resolve_data_dir
    from withyou.records import DataError

    try:
        sources = load_sources(sources_file)
    except DataError as exc:
        fail(str(exc))
    root = resolve_data_dir(data_dir)
    table = Table(title=f"public datasets in {root}")
    for column in ("name", "present", "folder", "licence", "non-commercial", "benchmark split", "languages", "opt-in"):
        table.add_column(column, overflow="fold")
    for source in sources.values():
        files = present_files(source, root)
        present = "[green]yes[/]" if files else "[yellow]no[/] (withyou data pull " + source.name + ")"
        noncommercial = "[red]NC[/] some rows" if source.noncommercial else ""
        benchmark = ", ".join(source.benchmark_splits)
        languages = ", ".join(source.languages)
        row = (source.name, present, source.folder, source.licence, noncommercial, benchmark, languages, source.opt_in)
        table.add_row(*row)
    console = Console()
    console.print(table)
    console.print(
        "NC: rows tagged `noncommercial` (left out by `data build --exclude-noncommercial`). "
        "Benchmark splits are held out as real-text benchmarks and never trained on. "
        "An opt-in source is read only by `data build --opt-in SET` (or --sources NAME)."
    )


@data_app.command("pull")
def pull(
    name: Annotated[str, typer.Argument(help="Dataset name from the sources table (see `withyou data list`)")],
    data_dir: DataDirOption = None,
    sources_file: SourcesFileOption = None,
    allow_unpinned: Annotated[
        bool, typer.Option(help="Download files with no pinned sha256 and print their hash (not verified)")
    ] = False,
) -> None:
    """Download a dataset from its upstream URL into the data directory, verifying each file's SHA-256."""
    from rich.console import Console
    from rich.progress import DownloadColumn, Progress, TransferSpeedColumn

    from training.pull import pull_dataset
    from withyou.records import DataError

    console = Console()
    with Progress(*Progress.get_default_columns(), DownloadColumn(), TransferSpeedColumn(), console=console) as bars:

        def on_file(file):
            tasks: list = []  # a bar appears with the first bytes, not for a refused or failed file

            def on_bytes(n: int, total: int | None) -> None:
                if not tasks:
                    tasks.append(bars.add_task(file.path, total=total))
                bars.update(tasks[0], advance=n, total=total)

            return on_bytes

        try:
            pulled = pull_dataset(name, data_dir, sources_file, allow_unpinned=allow_unpinned, on_file=on_file)
        except DataError as exc:
            fail(str(exc))
    for item in pulled:
        console.print(f"{item.status}: {item.path}  sha256 {item.sha256}")


@data_app.command("build")
def build(
    data_dir: DataDirOption = None,
    sources: Annotated[
        Optional[str],
        typer.Option("--sources", help="Comma-separated public datasets to use [default: all without opt_in]"),
    ] = None,
    opt_in: Annotated[
        Optional[str],
        typer.Option("--opt-in", help="Comma-separated opt-in source sets to read too (sources.toml opt_in)"),
    ] = None,
    no_public: Annotated[bool, typer.Option("--no-public", help="Seed corpus only")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="Output folder [default: artifacts/dataset]")] = None,
    seed: Annotated[int, typer.Option(help="Random seed for caps and the split")] = B.seed,
    strict: Annotated[bool, typer.Option(help="Stop at the first bad row (file:line) instead of skipping it")] = False,
    seed_dir: Annotated[Path, typer.Option(help="Seed corpus folder")] = B.seed_dir,
    sources_file: SourcesFileOption = None,
    validation_fraction: float = B.validation_fraction,
    test_fraction: float = B.test_fraction,
    cap: Annotated[
        Optional[int], typer.Option(min=0, help="Rows per label kept from each public dataset [default: sources.toml]")
    ] = None,
    no_cap: Annotated[bool, typer.Option("--no-cap", help="Ignore sources.toml caps too (keep every public row)")] = False,
    exclude_noncommercial: Annotated[
        bool,
        typer.Option("--exclude-noncommercial", help="Leave out rows whose licence is non-commercial (CrowdCounter)"),
    ] = False,
    near_dup_threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="Char 5-gram Jaccard")] = B.near_dup_threshold,
    extra: Annotated[
        Optional[list[Path]],
        typer.Option("--extra", help="Labelled JSONL added after the split, e.g. review exports (repeatable)"),
    ] = None,
) -> None:
    """Build the combined dataset: read, de-duplicate, cap, split (grouped, stratified), write with a manifest."""
    from rich.console import Console
    from rich.markup import escape

    from training.build import BuildConfig, Notices, build_dataset
    from training.split import fold_plan
    from training.summary import Steps, print_summary
    from withyou.records import DataError

    try:
        fold_plan(validation_fraction, test_fraction)
    except ValueError as exc:
        fail(str(exc))
    console = Console()
    config = BuildConfig(
        data_dir=data_dir,
        seed_dir=seed_dir,
        out_dir=out,
        sources_file=sources_file,
        sources=tuple(s.strip() for s in sources.split(",") if s.strip()) if sources else None,
        opt_in=tuple(s.strip() for s in opt_in.split(",") if s.strip()) if opt_in else (),
        include_public=not no_public,
        strict=strict,
        seed=seed,
        validation_fraction=validation_fraction,
        test_fraction=test_fraction,
        cap=cap,
        apply_caps=not no_cap,
        exclude_noncommercial=exclude_noncommercial,
        near_dup_threshold=near_dup_threshold,
        extra=tuple(str(path) for path in extra or ()),
    )
    try:
        manifest = build_dataset(
            config,
            progress=Steps(console),
            notices=Notices(lambda line: console.print(f"[yellow]notice[/] {escape(line)}")),
        )
    except DataError as exc:
        fail(str(exc))
    print_summary(console, manifest)


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app (model commands go here, beside the data group)."""
    app.add_typer(data_app, name="data")
    from training.model_cli import register_model_commands

    register_model_commands(app)
