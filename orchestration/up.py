"""`withyou up` — the README's main job: make sure a calibrated model exists, then serve it.

    1. a model to serve?   --bundle REF, else $WITHYOU_BUNDLE, else the champion; found → serve it (unless --retrain)
    2. the lifecycle       orchestration/lifecycle.py: build the dataset if missing (with the opt-in source sets
                           the --preset trains on) → train the preset → evaluate (English and every language the
                           bundle lists) → the promotion floor → gate against the champion when one exists
                           (--retrain) → promote only if both pass (a --fast smoke model is never promoted: it is
                           served from its bundle directory)
    3. serve               `withyou serve --bundle models:/withyou@champion`

A model below the floor (the linear baseline on real text, the canonical disclosures, each listed language's bars)
is refused in one line with the numbers (exit 1), never served.

The server runs in its own processes (`withyou serve` starts `bentoml serve` as a child and supervises it), and when
`up` serves, training runs in a child process too (`train_in_child`), so the supervising process never imports torch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Optional

import typer

from training.config import DEFAULT_PRESET, FAST_PRESET
from withyou.registry import CHAMPION_REF


def up(
    bundle: Annotated[
        Optional[str], typer.Option(help="Serve this bundle reference instead of the champion (withyou/registry.py)")
    ] = None,
    retrain: Annotated[
        bool, typer.Option("--retrain", help="Train a new model even when a champion exists; it must pass the gate")
    ] = False,
    preset: Annotated[
        str,
        typer.Option(help="Training preset, as `withyou train --preset`; the dataset is built with the opt-in source "
                     "sets it trains on (multilingual: --opt-in multilingual)"),
    ] = DEFAULT_PRESET,
    fast: Annotated[bool, typer.Option("--fast", help="Same as --preset fast (smoke runs)")] = False,
    dataset: Annotated[
        Optional[Path], typer.Option(help="Built dataset to train on [artifacts/dataset; built when missing]")
    ] = None,
    data_dir: Annotated[Optional[Path], typer.Option(help="Public data directory for the build [../shared/data]")] = None,
    no_public: Annotated[bool, typer.Option("--no-public", help="Build from the seed corpus only")] = False,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Start the server at the end")] = True,
    host: Annotated[Optional[str], typer.Option(help="Address to listen on [serving default]")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port [serving default]")] = None,
) -> None:
    """Train a model if none exists (build → train → evaluate → gate → promote), then serve it."""
    from rich.console import Console

    console = Console()
    ref = bundle or os.environ.get("WITHYOU_BUNDLE") or CHAMPION_REF
    found = None if retrain else existing_bundle(ref)
    if found:
        console.print(f"[green]model found[/] {ref} → {found}; skipping training (--retrain to train anew)")
    elif bundle and not retrain:
        _fail(f"no bundle at {bundle}; drop --bundle to train one, or give a bundle directory / models:/ reference")
    else:
        options = dict(preset=FAST_PRESET if fast else preset, dataset=dataset, data_dir=data_dir, no_public=no_public)
        ref = train_in_child(options) if serve else train(console, **options)
    if not serve:
        console.print(f"ready to serve: withyou serve --bundle {ref}")
        return
    import inspect

    from serving.cli import serve as start_server

    # Every other option of `withyou serve` left unset (None): serving/config.py's settings and environment decide.
    unset = {name: None for name in inspect.signature(start_server).parameters}
    start_server(**{**unset, "bundle": ref, "host": host, "port": port})


def existing_bundle(ref: str) -> Path | None:
    from withyou.bundle import BundleError
    from withyou.registry import resolve_bundle

    try:
        return resolve_bundle(ref)
    except (BundleError, ValueError, LookupError):
        return None


def train_in_child(options: dict) -> str:
    """`train(**options)` in a fresh interpreter (spawn); returns its reference. The process that goes on to
    supervise the server then never imports torch: training in it would keep ~1.8 GB resident while it serves.
    A child that stops (refused model, bad input) makes `up` exit with its code."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_train_and_send, args=(sender, options), name="withyou-up-train")
    child.start()
    sender.close()
    try:
        ref = receiver.recv()
    except EOFError:  # the child exited without a reference
        ref = None
    child.join()
    if child.exitcode != 0 or ref is None:
        raise typer.Exit(child.exitcode or 1)
    return ref


def _train_and_send(sender, options: dict) -> None:
    from rich.console import Console

    try:
        sender.send(train(Console(), **options))
    except typer.Exit as stop:
        raise SystemExit(stop.exit_code) from None


def train(console, *, preset: str, dataset: Path | None, data_dir: Path | None, no_public: bool) -> str:
    """The lifecycle; returns the reference to serve (the champion alias, or the new bundle without a registry)."""
    from rich.markup import escape

    from orchestration.lifecycle import (
        BAD_INPUT,
        FLOOR_FAILED,
        GATE_FAILED,
        LifecycleConfig,
        run_lifecycle,
    )
    from training.config import ConfigError
    from training.export import ExportError
    from training.tracking import RegistryError
    from withyou.records import DataError

    if dataset and not (Path(dataset) / "manifest.json").is_file():
        _fail(f"no built dataset at {dataset} (manifest.json missing); run `withyou data build --out {dataset}`")
    config = LifecycleConfig(preset=preset, dataset_dir=dataset, data_dir=data_dir, include_public=not no_public,
                             train_overrides={"tags": {"trigger": "up"}})  # fmt: skip
    try:
        done = run_lifecycle(config, echo=lambda line: console.print(escape(line)))
    except (ConfigError, DataError, ExportError, RegistryError) as exc:
        _fail(str(exc))
    for note in done.notes:
        console.print(escape(note), soft_wrap=True)
    if done.exit_code == BAD_INPUT:
        _fail(f"evaluation of {done.bundle_dir} failed; the model is not promoted")
    if done.exit_code == FLOOR_FAILED:
        raise typer.Exit(1)  # its note, printed above, is the refusal with the numbers
    if done.exit_code == GATE_FAILED:
        console.print(f"[yellow]the gate kept the champion[/]: {done.model_version} is not promoted")
        return CHAMPION_REF
    return CHAMPION_REF if done.promoted else str(done.bundle_dir)


def _fail(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("up")(up)
