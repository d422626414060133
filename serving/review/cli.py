"""`withyou review …` (export, purge, status, serve, add-reviewer) and `withyou retrain` (training/retrain.py).

Registered into the root app by withyou/cli.py. Module level imports typer only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

review_app = typer.Typer(
    name="review",
    help="The review queue: export reviewed labels, purge old post text, run the reviewer UI alone.",
    no_args_is_help=True,
)
DbOption = Annotated[
    Optional[str], typer.Option("--db", help="Review DB: SQLAlchemy URL or SQLite path [env WITHYOU_REVIEW_DB]")
]


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
    app.command("retrain")(retrain)


def fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def open_store(db: str | None):
    from serving.review.config import get_review_settings
    from serving.review.store import ReviewStore

    settings = get_review_settings()
    if db:
        settings = settings.model_copy(update={"db": db})
    return ReviewStore.from_settings(settings), settings


@review_app.command("export")
def export(
    out: Annotated[Optional[Path], typer.Option("--out", help="[artifacts/review/exports/reviewed.jsonl]")] = None,
    db: DbOption = None,
) -> None:
    """Write every decided item as a labelled record (dataset schema, source "review") to one JSONL file."""
    from sqlalchemy.exc import SQLAlchemyError

    from serving.review.export import export_reviewed

    store, _ = open_store(db)
    try:
        summary = export_reviewed(store, out)
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot export from {store.engine.url.render_as_string(hide_password=True)}: {type(exc).__name__}: {exc}")
    typer.echo(
        f"exported {summary.written} reviewed items to {summary.path} (by label {summary.by_label}; "
        f"{summary.corrected} corrected the model; {summary.purged_skipped} purged items left out)"
    )


@review_app.command("purge")
def purge(
    older_than_days: Annotated[
        Optional[int], typer.Option(min=1, help="Blank posts decided longer ago than this [env WITHYOU_REVIEW_RETENTION_DAYS, 90]")
    ] = None,
    db: DbOption = None,
) -> None:
    """Retention: blank the text and parent text of items decided more than N days ago; labels and audit stay."""
    from sqlalchemy.exc import SQLAlchemyError

    store, settings = open_store(db)
    days = older_than_days or settings.retention_days
    try:
        purged = store.purge(days)
    except SQLAlchemyError as exc:
        fail(f"cannot purge {store.engine.url.render_as_string(hide_password=True)}: {type(exc).__name__}")
    typer.echo(f"purged the text of {purged} items decided more than {days} days ago")


@review_app.command("status")
def status(db: DbOption = None) -> None:
    """Counts of pending, claimed, decided and escalated items."""
    store, _ = open_store(db)
    counts = store.counts()
    typer.echo("  ".join(f"{name} {n}" for name, n in counts.items()))


@review_app.command("add-reviewer")
def add_reviewer(
    name: Annotated[str, typer.Argument(help="Reviewer name (A-Z a-z 0-9 _ . @ -)")],
    file: Annotated[Path, typer.Option("--file", help="Reviewers JSON file to create or update")],
) -> None:
    """Create a reviewer key: the file keeps only its SHA-256; the key is printed once."""
    import json
    import secrets

    from serving.review.security import NAME, key_digest

    if not NAME.match(name):
        fail(f"reviewer name {name!r} must be 1-64 of A-Z a-z 0-9 _ . @ -")
    entries = json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}
    key = secrets.token_urlsafe(24)
    entries[name] = "sha256:" + key_digest(key).hex()
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    file.chmod(0o600)
    typer.echo(f"reviewer {name} added to {file}; their key (shown once): {key}")


@review_app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 3001,
    db: DbOption = None,
    reviewers_file: Annotated[Optional[Path], typer.Option(help="[env WITHYOU_REVIEW_REVIEWERS_FILE]")] = None,
) -> None:
    """Run the reviewer API and UI alone (no model), at http://HOST:PORT/review/."""
    import os

    import uvicorn

    if db:
        os.environ["WITHYOU_REVIEW_DB"] = db
    if reviewers_file:
        os.environ["WITHYOU_REVIEW_REVIEWERS_FILE"] = str(reviewers_file)
    if not os.environ.get("WITHYOU_REVIEW_REVIEWERS_FILE"):
        fail("no reviewers: pass --reviewers-file or set WITHYOU_REVIEW_REVIEWERS_FILE")
    typer.echo(f"reviewer UI on http://{host}:{port}/review/")
    uvicorn.run("serving.review.app:standalone_app", factory=True, host=host, port=port, log_level="info")


def retrain(
    fast: Annotated[bool, typer.Option("--fast", help="Train with the tiny preset (smoke runs)")] = False,
    no_export: Annotated[bool, typer.Option("--no-export", help="Use the existing review export as it is")] = False,
    review_export: Annotated[Optional[Path], typer.Option(help="[artifacts/review/exports/reviewed.jsonl]")] = None,
    extra: Annotated[Optional[list[Path]], typer.Option("--extra", help="More labelled JSONL (repeatable)")] = None,
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help="Where to build [artifacts/dataset]")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Public datasets folder")] = None,
    no_public: Annotated[bool, typer.Option("--no-public", help="Seed corpus (+ reviews) only")] = False,
    seed: int = 13,
    champion: Annotated[str, typer.Option(help="Model to gate against")] = "champion",
    tolerance: Annotated[float, typer.Option(min=0.0, help="Gate slack")] = 0.01,
    no_promote: Annotated[bool, typer.Option("--no-promote", help="Gate only; never move the champion")] = False,
    max_steps: Annotated[Optional[int], typer.Option(min=1, help="Cap on optimizer steps [preset]")] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--lr", "--learning-rate", help="[preset]")] = None,
    parity_min_int8_agreement: Annotated[
        Optional[float], typer.Option(min=0.0, max=1.0, help="Export parity floor [0.995; 0.75 with --fast]")
    ] = None,
    db: DbOption = None,
) -> None:
    """Export reviewed labels, rebuild the dataset with them, train a challenger, gate it, promote if it passes."""
    import os

    from training.config import ConfigError
    from training.dataset import DatasetMissingError
    from training.export import ExportError
    from training.retrain import RetrainConfig, RetrainError, run_retrain
    from training.tracking import RegistryError
    from withyou.records import DataError

    if db:
        os.environ["WITHYOU_REVIEW_DB"] = db
    config = RetrainConfig(
        fast=fast, export=not no_export, review_export=review_export, extra=list(extra or []), dataset_dir=dataset,
        data_dir=data_dir, include_public=not no_public, seed=seed, champion=champion, tolerance=tolerance,
        promote=not no_promote, max_steps=max_steps, learning_rate=learning_rate,
        parity_min_int8_agreement=parity_min_int8_agreement,
    )  # fmt: skip
    try:
        outcome = run_retrain(config, echo=typer.echo)
    except (RetrainError, ConfigError, DatasetMissingError, DataError, ExportError, RegistryError) as exc:
        fail(str(exc))
    verdict = outcome.gate or {}
    typer.echo(
        f"retrain: challenger {outcome.model_version} (registered version {outcome.registered_version}), "
        f"{outcome.review_rows} reviewed items merged; gate {'PASS' if verdict.get('passed') else 'FAIL'}; "
        f"{'promoted to champion' if outcome.promoted else 'champion unchanged'}; report {outcome.report_path}"
    )
    for note in outcome.notes:
        typer.echo(f"  {note}")
    raise typer.Exit(outcome.exit_code)
