"""`withyou review …`: export, purge, status, serve, add-reviewer.

Registered into the root app by orchestration/cli.py. Module level imports typer only.
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


def fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def open_store(db: str | None):
    from review.config import get_review_settings
    from review.store import ReviewStore

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

    from review.export import export_reviewed
    from review.store import ReviewError

    store, _ = open_store(db)
    try:
        summary = export_reviewed(store, out)
    except ReviewError as exc:
        fail(exc.message)
    except (SQLAlchemyError, OSError) as exc:
        fail(f"cannot export from {store.engine.url.render_as_string(hide_password=True)}: {type(exc).__name__}: {exc}")
    typer.echo(
        f"exported {summary.written} reviewed items to {summary.path} (by label {summary.by_label}; "
        f"{summary.corrected} corrected the model; {summary.appeal_corrections} corrected by an overturned appeal; "
        f"{summary.purged_skipped} purged items left out)"
    )


@review_app.command("purge")
def purge(
    older_than_days: Annotated[
        Optional[int], typer.Option(min=1, help="Blank posts decided longer ago than this [env WITHYOU_REVIEW_RETENTION_DAYS, 90]")
    ] = None,
    thread_days: Annotated[
        Optional[int], typer.Option(min=1, help="Delete thread counts and author hashes older than this [env WITHYOU_REVIEW_THREAD_RETENTION_DAYS, 7]")
    ] = None,
    db: DbOption = None,
) -> None:
    """Retention: blank the text and parent text of items decided more than N days ago (labels and audit stay), and
    delete thread counts, threads and author hashes past the thread retention."""
    from sqlalchemy.exc import SQLAlchemyError

    store, settings = open_store(db)
    days = older_than_days or settings.retention_days
    thread_days = thread_days or settings.thread_retention_days
    try:
        purged = store.purge(days)
        expired = store.purge_threads(thread_days)
    except SQLAlchemyError as exc:
        fail(f"cannot purge {store.engine.url.render_as_string(hide_password=True)}: {type(exc).__name__}")
    typer.echo(f"purged the text of {purged} items decided more than {days} days ago")
    typer.echo(
        f"deleted {expired['thread_replies']} counted replies and {expired['threads']} threads, and blanked "
        f"{expired['author_hashes']} author hashes, older than {thread_days} days"
    )


@review_app.command("status")
def status(
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="The queue report as JSON (as GET /review/api/status)")] = False,
) -> None:
    """Counts of pending, claimed, decided and escalated items; per priority class the open items, service-level
    breaches and the oldest open item; per appealable label the appeal and overturn rates; each reviewer's
    exposure today."""
    import json

    from sqlalchemy.exc import SQLAlchemyError

    from review.wellness import Wellness, status_lines

    store, settings = open_store(db)
    try:
        report = store.status_report()
    except SQLAlchemyError as exc:
        fail(f"cannot read {store.engine.url.render_as_string(hide_password=True)}: {type(exc).__name__}")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo("  ".join(f"{name} {n}" for name, n in report["counts"].items()))
    for line in report_lines(report):
        typer.echo(line)
    for line in status_lines(Wellness.from_settings(store.engine, settings)):
        typer.echo(line)


def report_lines(report: dict) -> list[str]:
    """The service-level and appeal tables of `withyou review status`."""
    from review.sla import duration

    lines = [f"{'priority class':<18}{'open':>6}{'SLA':>8}{'breached':>10}  oldest open item"]
    for name, row in report["service_levels"].items():
        oldest = f"#{row['oldest_item_id']}, waiting {duration(row['oldest_age_seconds'])}" if row["open"] else "-"
        sla = duration(row["sla_minutes"] * 60)
        lines.append(f"{name:<18}{row['open']:>6}{sla:>8}{row['breached']:>10}  {oldest}")
    appeals = report["appeals"]
    lines.append(f"appeals: {appeals['open']} open, {appeals['decided']} decided")
    lines.append(f"{'label':<14}{'posts decided':>14}{'appealed':>10}{'appeal rate':>13}{'appeals decided':>17}"
                 f"{'overturned':>12}{'overturn rate':>15}")  # fmt: skip
    for label, row in appeals["by_label"].items():
        lines.append(f"{label:<14}{row['decided']:>14}{row['appealed']:>10}{rate(row['appeal_rate']):>13}"
                     f"{row['appeals_decided']:>17}{row['overturned']:>12}{rate(row['overturn_rate']):>15}")  # fmt: skip
    return lines


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@review_app.command("add-reviewer")
def add_reviewer(
    name: Annotated[str, typer.Argument(help="Reviewer name (A-Z a-z 0-9 _ . @ -)")],
    file: Annotated[Path, typer.Option("--file", help="Reviewers JSON file to create or update")],
) -> None:
    """Create a reviewer key: the file keeps only its SHA-256; the key is printed once."""
    import json
    import secrets

    from review.security import NAME, key_digest

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
    bundle: Annotated[
        Optional[str], typer.Option(help="Bundle whose labels.json reviewers use [env WITHYOU_REVIEW_BUNDLE; else the 4 default labels]")
    ] = None,
) -> None:
    """Run the reviewer API and UI alone (no model), at http://HOST:PORT/review/."""
    import os

    import uvicorn

    if db:
        os.environ["WITHYOU_REVIEW_DB"] = db
    if bundle:
        os.environ["WITHYOU_REVIEW_BUNDLE"] = bundle
    if reviewers_file:
        os.environ["WITHYOU_REVIEW_REVIEWERS_FILE"] = str(reviewers_file)
    if not os.environ.get("WITHYOU_REVIEW_REVIEWERS_FILE"):
        fail("no reviewers: pass --reviewers-file or set WITHYOU_REVIEW_REVIEWERS_FILE")
    typer.echo(f"reviewer UI on http://{host}:{port}/review/")
    uvicorn.run("review.app:standalone_app", factory=True, host=host, port=port, log_level="info")
