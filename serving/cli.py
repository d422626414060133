"""CLI commands of the serving stage (registered into the `withyou` app by orchestration/cli.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

REPO_ROOT = Path(__file__).resolve().parents[1]


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    app.command("serve")(serve)


def serve(
    bundle: Optional[str] = typer.Option(
        None, help="bundle directory or registry ref (env WITHYOU_BUNDLE; default models:/withyou@champion)"
    ),
    host: Optional[str] = typer.Option(None, help="address to listen on (default 127.0.0.1)"),
    port: Optional[int] = typer.Option(None, help="port (default 3000)"),
    workers: Optional[int] = typer.Option(None, help="worker processes, one model copy each (default 1)"),
    ort_threads: Optional[int] = typer.Option(None, help="onnxruntime threads per worker (default cores/workers)"),
    review_threshold: Optional[float] = typer.Option(None, help="override the bundle's review threshold"),
    hide_threshold: Optional[float] = typer.Option(None, help="override the bundle's hide threshold"),
    api_key_file: Optional[Path] = typer.Option(
        None, help="file holding the API key /classify requires (or env WITHYOU_API_KEY; default: no auth)"
    ),
    max_items: Optional[int] = typer.Option(None, help="items per request (default 256)"),
    max_text_chars: Optional[int] = typer.Option(None, help="characters per text (default 5000)"),
    max_body_bytes: Optional[int] = typer.Option(None, help="request body cap (default 16 MiB)"),
    max_batch_size: Optional[int] = typer.Option(None, help="items per adaptive batch (default 64)"),
    max_latency_ms: Optional[int] = typer.Option(None, help="adaptive batching latency budget (default 30000)"),
    review_sink: Optional[str] = typer.Option(None, help="'module:factory' building the review sink (default none)"),
) -> None:
    """Serve the classifier over HTTP (BentoML): POST /classify, /healthz, /readyz, /metrics, /docs.json."""
    from pydantic import ValidationError

    from serving.config import ServingSettings
    from withyou.bundle import BundleError
    from withyou.registry import resolve_bundle

    flags = dict(
        bundle=bundle, host=host, port=port, workers=workers, ort_threads=ort_threads,
        review_threshold=review_threshold, hide_threshold=hide_threshold, max_items=max_items,
        max_text_chars=max_text_chars, max_body_bytes=max_body_bytes, max_batch_size=max_batch_size,
        max_latency_ms=max_latency_ms, review_sink=review_sink,
    )  # fmt: skip
    overrides = {name: value for name, value in flags.items() if value is not None}
    if api_key_file is not None:
        overrides["api_key"] = read_api_key(api_key_file)
    try:
        settings = ServingSettings(**overrides)
        bundle_dir = resolve_bundle(settings.bundle)
    except (ValidationError, BundleError, ValueError, LookupError) as exc:
        typer.secho(f"cannot serve: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    settings = settings.model_copy(update={"bundle": str(bundle_dir)})
    command = [
        sys.executable, "-m", "bentoml", "serve", "serving.service:WithYou",
        "--host", settings.host, "--port", str(settings.port), "--working-dir", str(REPO_ROOT),
    ]  # fmt: skip
    summary = settings.safe_summary()
    typer.echo(f"serving {bundle_dir} on http://{settings.host}:{settings.port} (api key {summary['api_key']})")
    os.execve(sys.executable, command, {**os.environ, **settings.to_env(), **bentoml_home(settings.port)})


def bentoml_home(port: int) -> dict[str, str]:
    """A BentoML home per port. BentoML keeps Prometheus' multiprocess files in $BENTOML_HOME and wipes them at
    every start, so two servers sharing one home (a second `withyou serve`, the benchmark's baseline) would
    reset and mix each other's /metrics."""
    home = Path(tempfile.gettempdir()) / f"withyou-bentoml-{port}"
    home.mkdir(parents=True, exist_ok=True)
    return {"BENTOML_HOME": str(home)}


def read_api_key(path: Path) -> str:
    try:
        key = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read API key file {path}: {exc.strerror}") from None
    if not key:
        raise typer.BadParameter(f"API key file {path} is empty")
    return key
