"""CLI commands of the serving stage (registered into the `withyou` app by orchestration/cli.py).

`withyou serve` fails fast: before any server starts it resolves the bundle (a registered version is checked
against the digest the registry recorded: withyou/registry.py), loads it, scores one post and builds the reviewer
app in a throw-away process, so a corrupt or tampered bundle, one without file checksums (unless
--allow-unverified-bundle) or a bad reviewers file is a non-zero exit (2) within seconds with one line naming
what is wrong. It then
runs `bentoml serve` as its child and stays as a thin supervisor: a worker that still cannot start (a review sink
that fails, say) stops the server (serving/service.py: stop_server_on_failure), and `withyou serve` exits 3 with
the worker's reason instead of BentoML restarting the worker forever.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

import typer

from serving.config import ServingSettings

S = {name: field.default for name, field in ServingSettings.model_fields.items()}
"""The defaults every option shows: declared once, in serving/config.py (ServingSettings)."""
REPO_ROOT = Path(__file__).resolve().parents[1]
EXIT_BAD_CONFIG = 2
EXIT_WORKER_FAILED = 3


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    app.command("serve")(serve)


def serve(
    bundle: Optional[str] = typer.Option(
        None, help=f"bundle reference (withyou/registry.py; env WITHYOU_BUNDLE) [{S['bundle']}]"
    ),
    host: Optional[str] = typer.Option(None, help=f"address to listen on [{S['host']}]"),
    port: Optional[int] = typer.Option(None, help=f"port [{S['port']}]"),
    workers: Optional[int] = typer.Option(None, help=f"worker processes, one model copy each [{S['workers']}]"),
    ort_threads: Optional[int] = typer.Option(None, help=f"onnxruntime threads per worker; cores / workers if unset [{S['ort_threads']}]"),
    review_threshold: Optional[float] = typer.Option(None, help="override the bundle's review threshold"),
    hide_threshold: Optional[float] = typer.Option(None, help="override the bundle's hide threshold"),
    api_key_file: Optional[Path] = typer.Option(
        None, help="file holding the API key /classify requires (or env WITHYOU_API_KEY; default: no auth)"
    ),
    metrics_token_file: Optional[Path] = typer.Option(
        None, help="file holding the token /metrics requires (or env WITHYOU_METRICS_TOKEN; default: no auth)"
    ),
    max_items: Optional[int] = typer.Option(None, help=f"items per request [{S['max_items']}]"),
    max_text_chars: Optional[int] = typer.Option(None, help=f"characters per text [{S['max_text_chars']}]"),
    max_body_bytes: Optional[int] = typer.Option(None, help=f"request body cap in bytes [{S['max_body_bytes']}]"),
    max_batch_size: Optional[int] = typer.Option(None, help=f"items per model call [{S['max_batch_size']}]"),
    max_queued_items: Optional[int] = typer.Option(
        None, help=f"items admitted per worker before 429 + Retry-After [{S['max_queued_items']}]"
    ),
    review_sink: Optional[str] = typer.Option(None, help=f"'module:factory' building the review sink [{S['review_sink']}]"),
    allow_unverified_bundle: Optional[bool] = typer.Option(
        None, "--allow-unverified-bundle",
        help=f"serve a bundle that records no file checksums, its files unverified [{S['allow_unverified_bundle']}]",
    ),
) -> None:
    """Serve the classifier over HTTP (BentoML): POST /classify, /healthz, /readyz, /metrics, /docs.json."""
    from pydantic import ValidationError

    from serving.config import ServingSettings
    from withyou.bundle import BundleError
    from withyou.registry import resolve_bundle
    from withyou.logs import configure_logging

    flags = dict(
        bundle=bundle, host=host, port=port, workers=workers, ort_threads=ort_threads,
        review_threshold=review_threshold, hide_threshold=hide_threshold, max_items=max_items,
        max_text_chars=max_text_chars, max_body_bytes=max_body_bytes, max_batch_size=max_batch_size,
        max_queued_items=max_queued_items, review_sink=review_sink, allow_unverified_bundle=allow_unverified_bundle,
    )  # fmt: skip
    overrides = {name: value for name, value in flags.items() if value is not None}
    if api_key_file is not None:
        overrides["api_key"] = read_secret(api_key_file, "API key")
    if metrics_token_file is not None:
        overrides["metrics_token"] = read_secret(metrics_token_file, "metrics token")
    try:
        settings = ServingSettings(**overrides)
        configure_logging(settings.log_level)
        bundle_dir = resolve_bundle(settings.bundle)
    except (ValidationError, BundleError, ValueError, LookupError) as exc:
        fail(f"cannot serve: {exc}", EXIT_BAD_CONFIG)
    settings = settings.model_copy(update={"bundle": str(bundle_dir)})
    problem = preflight(str(bundle_dir), settings.to_env())
    if problem:
        fail(f"cannot serve: {problem}", EXIT_BAD_CONFIG)
    summary = settings.safe_summary()
    typer.echo(f"serving {bundle_dir} on http://{settings.host}:{settings.port} (api key {summary['api_key']})")
    raise typer.Exit(supervise(settings))


def fail(message: str, code: int) -> None:
    typer.secho(message, fg="red", err=True)
    raise typer.Exit(code)


def startup_problem(bundle_dir: str, env: dict[str, str]) -> str | None:
    """What would stop a worker from starting, found before any server runs (in a throw-away process): the
    bundle (checksums, schema, a probe run: withyou.bundle.verify_bundle; no checksums at all unless allowed),
    then the reviewer app the service mounts at import (reviewers file, review store), with the settings the
    workers will see in `env`."""
    from serving.hooks import load_reviewer_mount
    from withyou.bundle import verify_bundle

    os.environ.update(env)
    try:
        classifier = verify_bundle(bundle_dir)
    except Exception as exc:  # any loader failure is a refusal to serve, reported with its message
        return f"bundle {bundle_dir} does not load: {type(exc).__name__}: {exc}"
    settings = ServingSettings()
    refusal = settings.unverified_refusal(bundle_dir, classifier.checksums_verified)
    if refusal:
        return refusal
    try:
        load_reviewer_mount(settings.review_app, bundle_dir)
    except Exception as exc:  # a reviewer app that cannot be built would fail every worker's import
        return f"the review app does not start: {type(exc).__name__}: {exc}"
    return None


def preflight(bundle_dir: str, env: dict[str, str]) -> str | None:
    """`startup_problem` in a fresh process, so the supervisor keeps no model copy in memory."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
        try:
            return pool.submit(startup_problem, bundle_dir, env).result()
        except concurrent.futures.process.BrokenProcessPool:
            return f"bundle {bundle_dir} does not load: the process loading it crashed (a corrupt model.onnx?)"


def supervise(settings) -> int:
    """Run `bentoml serve` as a child, pass SIGTERM/SIGINT on to it, and return the exit code for the shell."""
    command = [
        sys.executable, "-m", "bentoml", "serve", "serving.service:WithYou",
        "--host", settings.host, "--port", str(settings.port), "--working-dir", str(REPO_ROOT),
    ]  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="withyou-serve-") as directory:
        failure_file = Path(directory) / "startup-failure"
        env = {**os.environ, **settings.to_env(), **bentoml_home(settings.port)}
        env["WITHYOU_STARTUP_FAILURE_FILE"] = str(failure_file)
        child = subprocess.Popen(command, env=env)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: child.send_signal(signal.SIGTERM))
        code = child.wait()
        if failure_file.exists():
            reason = failure_file.read_text(encoding="utf-8").strip()
            typer.secho(f"cannot serve: a worker failed to start: {reason}", fg="red", err=True)
            return EXIT_WORKER_FAILED
    return code if code >= 0 else 128 - code


def bentoml_home(port: int) -> dict[str, str]:
    """A BentoML home per port. BentoML keeps Prometheus' multiprocess files in $BENTOML_HOME and wipes them at
    every start, so two servers sharing one home (a second `withyou serve`, the benchmark's baseline) would
    reset and mix each other's /metrics."""
    home = Path(tempfile.gettempdir()) / f"withyou-bentoml-{port}"
    home.mkdir(parents=True, exist_ok=True)
    return {"BENTOML_HOME": str(home)}


def read_secret(path: Path, what: str) -> str:
    """The secret in a file (an API key, a token), kept off the command line and out of `ps`."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read {what} file {path}: {exc.strerror}") from None
    if not secret:
        raise typer.BadParameter(f"{what} file {path} is empty")
    return secret
