"""`withyou retrain`: reviewed labels back into the model — export → build → train a challenger → gate → promote.

1. Export the review queue's decided items (review/export.py) to artifacts/review/exports/reviewed.jsonl.
2. The lifecycle (orchestration/lifecycle.py) with that file as an extra and the champion's training preset (its
   bundle's metadata.json `preset`; --preset overrides), so a multilingual champion is rebuilt with the opt-in
   languages and retrained on its base, never silently English-only: rebuild (training/build.py
   add_extra_records: the base split does not move, so the champion's held-out test posts stay held out — when the
   rebuild reads what the champion's build read: the same --seed-dir, public data and --seed) → train a
   challenger (registered with alias "challenger") → evaluate + gate against the champion on the new build's test
   split → promote only when the gate passes.

Every step logs to MLflow (training and evaluation log their own runs); the retrain adds tags to the challenger's
run (`retrain.*`: review rows, gate verdict, promotion) and writes artifacts/retrain/<model_version>.json.
Exit codes: 0 gate passed (promoted unless --no-promote), 1 gate failed (champion kept), 2 unusable input, 3 below
the linear baseline on real text (orchestration/lifecycle.py: the floor; champion kept).
Module level imports nothing heavy; torch and mlflow load inside the steps.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

from orchestration.lifecycle import (
    BAD_INPUT,
    FAST_PARITY_MIN_INT8_AGREEMENT,
    LifecycleConfig,
    champion_exists,
    run_lifecycle,
)
from training.config import DEFAULT_PRESET, FAST_PRESET, TrainConfig
from withyou import paths
from withyou.registry import CHAMPION


class RetrainError(RuntimeError):
    """A step could not run; the message says which and why."""


@dataclass
class RetrainConfig:
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    """Build, gate and promotion options (orchestration/lifecycle.py); the retrain sets its preset (`preset`), adds
    the review export to its extras and always rebuilds."""
    preset: str | None = None
    """The training preset; None: the champion's (`champion_preset`)."""
    export: bool = True
    """Export the review queue first; off: use `review_export` as it is."""
    review_export: Path | None = None
    """The review snapshot to merge [artifacts/review/exports/reviewed.jsonl]."""


@dataclass
class RetrainOutcome:
    exit_code: int
    review_rows: int
    dataset: dict[str, Any]
    model_version: str | None = None
    registered_version: str | None = None
    gate: dict[str, Any] | None = None
    promoted: bool = False
    report_path: Path | None = None
    notes: list[str] = field(default_factory=list)


def export_reviews(config: RetrainConfig, echo: Callable[[str], None]) -> tuple[Path, int]:
    from review.export import default_export_path, export_reviewed
    from review.store import ReviewStore

    path = Path(config.review_export) if config.review_export else default_export_path()
    if not config.export:
        if not path.is_file():
            raise RetrainError(f"no review export at {path}: run `withyou review export` or drop --no-export")
        return path, sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    summary = export_reviewed(ReviewStore.from_settings(), path)
    echo(f"exported {summary.written} reviewed items to {path} ({summary.corrected} corrected the model; "
         f"{summary.purged_skipped} purged items left out): {summary.by_label}")  # fmt: skip
    return path, summary.written


def champion_preset(champion: str) -> str:
    """The preset the champion was trained with: its bundle's metadata.json `preset`. A champion that records none
    (trained before presets were recorded, or from a bare TrainConfig) gets the default preset, unless it serves
    languages beyond English, which the default preset would drop: then the caller must choose (RetrainError)."""
    from withyou.integrity import read_metadata
    from withyou.language import DEFAULT_LANGUAGES, bundle_languages
    from withyou.registry import resolve_bundle

    metadata = read_metadata(resolve_bundle(champion))
    if metadata.get("preset"):
        return metadata["preset"]
    if other := [lang for lang in bundle_languages(metadata) if lang not in DEFAULT_LANGUAGES]:
        raise RetrainError(f"the {champion!r} model records no training preset and serves {', '.join(other)}: pass "
                           "--preset (multilingual keeps those languages; default drops them)")
    return DEFAULT_PRESET


def lifecycle_config(config: RetrainConfig, review_export: Path, review_rows: int, preset: str) -> LifecycleConfig:
    """The lifecycle run of a retrain: rebuild with the review export as an extra, train `preset`, gate against the
    champion."""
    base = config.lifecycle
    tags = {**base.train_overrides.get("tags", {}), "trigger": "retrain", "review_rows": str(review_rows)}
    return dataclasses.replace(
        base, preset=preset, rebuild=True, extra=[review_export, *base.extra],
        train_overrides={**base.train_overrides, "tags": tags},
    )  # fmt: skip


def tag_run(run_id: str | None, tags: dict[str, Any]) -> None:
    if not run_id:
        return
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=paths.mlflow_tracking_uri())
    for key, value in tags.items():
        client.set_tag(run_id, f"retrain.{key}", str(value))


def run_retrain(config: RetrainConfig, echo: Callable[[str], None] = print) -> RetrainOutcome:
    if not champion_exists(config.lifecycle.champion):
        raise RetrainError(
            f"no {config.lifecycle.champion!r} model to gate against: train one and promote it first "
            "(`withyou up`, or `withyou train`, `withyou evaluate`, `withyou promote VERSION`)"
        )
    preset = config.preset or champion_preset(config.lifecycle.champion)
    echo(f"training preset: {preset}" + ("" if config.preset else f" (the {config.lifecycle.champion!r} model's)"))
    review_export, review_rows = export_reviews(config, echo)
    if review_rows == 0:
        echo("notice: no reviewed items yet; retraining on the base dataset alone")
    done = run_lifecycle(lifecycle_config(config, review_export, review_rows, preset), echo)
    manifest = done.manifest
    outcome = RetrainOutcome(
        exit_code=done.exit_code, review_rows=review_rows, dataset=_dataset_summary(manifest),
        model_version=done.model_version, registered_version=done.registered_version, gate=done.gate,
        promoted=done.promoted, notes=list(done.notes),
    )  # fmt: skip
    tag_run(done.run_id, {"review_rows": review_rows, "gate_passed": bool(done.gate and done.gate.get("passed")),
                          "promoted": done.promoted, "dataset_hash": manifest["content_hash"]})  # fmt: skip
    outcome.report_path = write_report(outcome)
    return outcome


def _dataset_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    return {"content_hash": manifest["content_hash"], "rows": manifest["rows"], "extra": manifest.get("extra", {})}


def write_report(outcome: RetrainOutcome) -> Path:
    out = paths.retrain_reports_dir() / f"{outcome.model_version}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {**asdict(outcome), "report_path": str(out), "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    out.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return out


def retrain(
    preset: Annotated[
        Optional[str],
        typer.Option(help="Training preset, as `withyou train --preset` [the champion's: its bundle's metadata.json "
                     "preset]"),
    ] = None,
    fast: Annotated[bool, typer.Option("--fast", help="Same as --preset fast (smoke runs)")] = False,
    no_export: Annotated[bool, typer.Option("--no-export", help="Use the existing review export as it is")] = False,
    review_export: Annotated[Optional[Path], typer.Option(help="[artifacts/review/exports/reviewed.jsonl]")] = None,
    extra: Annotated[Optional[list[Path]], typer.Option("--extra", help="More labelled JSONL (repeatable)")] = None,
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help="Where to build [artifacts/dataset]")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Public datasets folder")] = None,
    no_public: Annotated[bool, typer.Option("--no-public", help="Seed corpus (+ reviews) only")] = False,
    seed_dir: Annotated[
        Optional[Path], typer.Option("--seed-dir", help="Seed corpus folder the dataset was built from [datasets/seed]")
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Build seed [the build's default]")] = None,
    champion: Annotated[str, typer.Option(help="Model to gate against")] = CHAMPION,
    tolerance: Annotated[Optional[float], typer.Option(min=0.0, help="Gate slack [evaluation's default]")] = None,
    no_promote: Annotated[bool, typer.Option("--no-promote", help="Gate only; never move the champion")] = False,
    max_steps: Annotated[Optional[int], typer.Option(min=1, help="Cap on optimizer steps [preset]")] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--lr", "--learning-rate", help="[preset]")] = None,
    parity_min_int8_agreement: Annotated[
        Optional[float], typer.Option(min=0.0, max=1.0, help=f"int8 rule's agreement bar [{TrainConfig.parity_min_int8_agreement}; {FAST_PARITY_MIN_INT8_AGREEMENT} with --fast]")
    ] = None,
    db: Annotated[Optional[str], typer.Option("--db", help="Review DB: SQLAlchemy URL or SQLite path [env WITHYOU_REVIEW_DB]")] = None,
) -> None:
    """Export reviewed labels, rebuild the dataset with them, train a challenger, gate it, promote if it passes."""
    import os

    from training.config import ConfigError
    from training.dataset import DatasetMissingError
    from training.export import ExportError
    from training.tracking import RegistryError
    from withyou.records import DataError

    if db:
        os.environ["WITHYOU_REVIEW_DB"] = db
    train_overrides = {
        name: value
        for name, value in (("max_steps", max_steps), ("learning_rate", learning_rate),
                            ("parity_min_int8_agreement", parity_min_int8_agreement))
        if value is not None
    }  # fmt: skip
    lifecycle = LifecycleConfig(
        dataset_dir=dataset, data_dir=data_dir, include_public=not no_public, seed_dir=seed_dir, seed=seed,
        extra=list(extra or []), champion=champion, tolerance=tolerance, promote=not no_promote,
        train_overrides=train_overrides,
    )  # fmt: skip
    config = RetrainConfig(lifecycle=lifecycle, preset=FAST_PRESET if fast else preset, export=not no_export,
                           review_export=review_export)  # fmt: skip
    try:
        outcome = run_retrain(config, echo=typer.echo)
    except (RetrainError, ConfigError, DatasetMissingError, DataError, ExportError, RegistryError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        raise typer.Exit(BAD_INPUT)
    verdict = outcome.gate or {}
    typer.echo(
        f"retrain: challenger {outcome.model_version} (registered version {outcome.registered_version}), "
        f"{outcome.review_rows} reviewed items merged; gate {'PASS' if verdict.get('passed') else 'FAIL'}; "
        f"{'promoted to champion' if outcome.promoted else 'champion unchanged'}; report {outcome.report_path}"
    )
    for note in outcome.notes:
        typer.echo(f"  {note}")
    raise typer.Exit(outcome.exit_code)


def register(app: typer.Typer) -> None:
    app.command("retrain")(retrain)
