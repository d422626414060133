"""`withyou up` — the README's main job: make sure a calibrated model exists, then serve it.

    1. a model to serve?   --bundle PATH/REF, else models:/withyou@champion; found → skip to 5 (unless --retrain)
    2. dataset built?      artifacts/dataset/manifest.json, else `withyou data build` (mirrored public data when the
                           data directory has it, the seed corpus always)
    3. train               `withyou train` (registers version N as challenger)
    4. evaluate, promote   `withyou evaluate` writes calibration + thresholds into the bundle and its MLflow copy;
                           the first model has no champion to gate against, so version N becomes champion
    5. serve               `withyou serve --bundle models:/withyou@champion`

Each step is the stage's own code, so `up` adds no behaviour of its own beyond the order. Serving replaces this
process (exec), so torch loaded by training does not stay in the server's memory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from withyou.registry import CHAMPION_REF


def up(
    bundle: Annotated[
        Optional[str], typer.Option(help="Serve this bundle directory or registry ref instead of the champion")
    ] = None,
    retrain: Annotated[bool, typer.Option("--retrain", help="Train a new model even when a champion exists")] = False,
    fast: Annotated[bool, typer.Option("--fast", help="Tiny training preset (smoke runs; not a usable model)")] = False,
    dataset: Annotated[
        Optional[Path], typer.Option(help="Built dataset to train on [artifacts/dataset; built when missing]")
    ] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="Public data directory for the build [../shared/data]")] = None,
    no_public: Annotated[bool, typer.Option("--no-public", help="Build from the seed corpus only")] = False,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server at the end")] = True,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on [127.0.0.1]")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port [3000]")] = None,
) -> None:
    """Train a model if none exists (build → train → evaluate → promote), then serve it."""
    from rich.console import Console

    console = Console()
    ref = bundle or os.environ.get("WITHYOU_BUNDLE") or CHAMPION_REF
    found = None if retrain else existing_bundle(ref)
    if found:
        console.print(f"[green]model found[/] {ref} → {found}; skipping training (--retrain to train anew)")
    elif bundle and not retrain:
        _fail(f"no bundle at {bundle}; drop --bundle to train one, or give a bundle directory / models:/ reference")
    else:
        ref = train_and_promote(console, fast=fast, dataset=dataset, data_dir=data_dir, no_public=no_public)
    if not serve:
        console.print(f"ready to serve: withyou serve --bundle {ref}")
        return
    from serving.cli import serve as start_server

    start_server(bundle=ref, host=host, port=port, **{name: None for name in _SERVE_DEFAULTS})


_SERVE_DEFAULTS = (
    "workers", "ort_threads", "review_threshold", "hide_threshold", "api_key_file", "max_items", "max_text_chars",
    "max_body_bytes", "max_batch_size", "max_latency_ms", "review_sink",
)  # fmt: skip
"""serve()'s remaining options, left to their environment variables and defaults (serving/config.py)."""


def existing_bundle(ref: str) -> Path | None:
    from withyou.bundle import BundleError
    from withyou.registry import resolve_bundle

    try:
        return resolve_bundle(ref)
    except (BundleError, ValueError, LookupError):
        return None


def train_and_promote(console, *, fast: bool, dataset: Path | None, data_dir: Path | None, no_public: bool) -> str:
    """Steps 2–4; returns the reference to serve (the champion alias, or the local bundle without a registry)."""
    from evaluation.cli import run_evaluation
    from evaluation.run import EvaluationConfig
    from training.config import ConfigError, TrainConfig
    from training.export import ExportError
    from training.pipeline import run_training
    from orchestration.retrain import FAST_PARITY_MIN_INT8_AGREEMENT
    from training.tracking import RegistryError, promote
    from withyou import paths
    from withyou.records import DataError

    dataset_dir = Path(dataset) if dataset else paths.dataset_dir()
    try:
        if not (dataset_dir / "manifest.json").is_file():
            if dataset:
                _fail(f"no built dataset at {dataset_dir} (manifest.json missing); run `withyou data build --out {dataset_dir}`")
            console.rule("1/3 build the dataset")
            build(console, dataset_dir, data_dir, no_public)
        console.rule("2/3 train (transformer + baseline) and export the bundle")
        overrides = {"dataset_dir": dataset_dir, "tags": {"trigger": "up"}}
        config = (
            TrainConfig.fast(parity_min_int8_agreement=FAST_PARITY_MIN_INT8_AGREEMENT, **overrides)
            if fast
            else TrainConfig(**overrides)
        )
        trained = run_training(config)
        console.print(f"model {trained.model_version} → {trained.model_dir}")
        console.rule("3/3 evaluate: calibration, thresholds, report")
        bundle_dir = trained.model_dir / "bundle"
        code = run_evaluation(str(bundle_dir), EvaluationConfig(dataset_dir=dataset_dir), against=None)
        if code != 0:
            _fail(f"evaluation of {bundle_dir} failed (exit {code}); the model is not promoted")
        if not trained.registered_version:
            return str(bundle_dir)
        moved = promote(trained.registered_version)
    except (ConfigError, DataError, ExportError, RegistryError) as exc:
        _fail(str(exc))
    console.print(f"promoted withyou version {moved['version']} to champion")
    return CHAMPION_REF


def build(console, out_dir: Path, data_dir: Path | None, no_public: bool) -> None:
    from rich.markup import escape

    from training.build import BuildConfig, Notices, build_dataset
    from training.summary import Steps, print_summary

    config = BuildConfig(data_dir=data_dir, out_dir=out_dir, include_public=not no_public)
    notices = Notices(lambda line: console.print(f"[yellow]notice[/] {escape(line)}"))
    print_summary(console, build_dataset(config, progress=Steps(console), notices=notices))


def _fail(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("up")(up)
