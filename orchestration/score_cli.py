"""`withyou score INPUT -o OUTPUT`: the command (the job is orchestration/score.py, the Spark engine
orchestration/spark.py; this module picks one so that neither imports the other's caller)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from orchestration import score_io
from orchestration.score import DEFAULT_CHUNK_ROWS, Columns, ScoreJob


def beside_output(output: str, suffix: str) -> Path:
    """OUTPUT + suffix for a local output; for a URI output (Spark), the same name in the working directory."""
    return Path(f"{output}{suffix}" if "://" not in output else f"{output.rstrip('/').rsplit('/', 1)[-1]}{suffix}")


def register(app: typer.Typer) -> None:
    app.command("score")(score)


def score(
    input: str = typer.Argument(..., help="JSONL, CSV or Parquet file (or Parquet directory) of posts; spark: any URI"),
    output: str = typer.Option(..., "--output", "-o", help="results: .jsonl, .csv or .parquet (a directory of parts)"),
    bundle: Optional[str] = typer.Option(None, help="bundle directory or registry ref (default models:/withyou@champion)"),
    engine: str = typer.Option("local", help="local (this process) or spark (mlflow.pyfunc.spark_udf)"),
    resume: bool = typer.Option(False, "--resume", help="append to OUTPUT, skipping ids already in it"),
    rejects: Optional[Path] = typer.Option(None, help="where bad rows go with their reason (default OUTPUT.rejects.jsonl)"),
    id_column: str = typer.Option("id", help="input column holding the id"),
    text_column: str = typer.Option("text", help="input column holding the post"),
    parent_column: str = typer.Option("parent_text", help="input column holding the post replied to"),
    input_format: Optional[str] = typer.Option(None, help="jsonl, csv or parquet (default: from INPUT's name)"),
    output_format: Optional[str] = typer.Option(None, help="jsonl, csv or parquet (default: from OUTPUT's name)"),
    chunk_rows: int = typer.Option(DEFAULT_CHUNK_ROWS, min=1, help="rows read, scored and written at a time"),
    max_text_chars: Optional[int] = typer.Option(None, min=1, help="longer texts are rejects (default: the server's limit)"),
    limit: Optional[int] = typer.Option(None, min=1, help="stop after this many input rows"),
    review_threshold: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="override the bundle's review threshold"),
    hide_threshold: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="override the bundle's hide threshold"),
    ort_threads: Optional[int] = typer.Option(None, min=1, help="onnxruntime threads (default: all cores; spark: 1 per task)"),
    spark_master: Optional[str] = typer.Option(None, help="Spark master (default: local[*], or what spark-submit set)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bar with texts/s on stderr"),
) -> None:
    """Classify a file of posts with the champion (or --bundle); results, rejects and a summary beside OUTPUT."""
    from withyou.bundle import BundleError
    from withyou.registry import CHAMPION_REF, resolve_bundle

    try:
        if engine != "spark" and not Path(input).exists():
            raise ValueError(f"no input file {input}")
        in_format = score_io.detect_format(Path(input), input_format)
        out_format = score_io.detect_format(Path(output), output_format)
        bundle_dir = resolve_bundle(bundle or CHAMPION_REF)
    except (ValueError, BundleError) as exc:
        typer.secho(f"cannot score: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    thresholds = {k: v for k, v in (("review", review_threshold), ("hide", hide_threshold)) if v is not None}
    job = ScoreJob(
        input=Path(input), output=Path(output), bundle_dir=bundle_dir, input_format=in_format,
        output_format=out_format, rejects=rejects or beside_output(output, ".rejects.jsonl"),
        columns=Columns(id_column, text_column, parent_column), max_text_chars=max_text_chars,
        chunk_rows=chunk_rows, resume=resume, limit=limit, progress=progress, thresholds=thresholds,
        ort_threads=ort_threads, input_uri=input, output_uri=output,
    )  # fmt: skip
    try:
        if engine == "spark":
            from orchestration.spark import score_with_spark

            summary = score_with_spark(job, master=spark_master)
        elif engine == "local":
            summary = job.run()
        else:
            raise ValueError(f"unknown engine {engine!r}; use local or spark")
    except (ValueError, FileExistsError) as exc:
        typer.secho(f"cannot score: {exc}", fg="red", err=True)
        raise typer.Exit(2) from None
    report = summary.as_dict() | {"bundle": str(bundle_dir), "output": str(output), "rejects": str(job.rejects)}
    beside_output(output, ".summary.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    typer.echo(
        f"scored {summary.scored} texts in {summary.seconds:.1f} s ({summary.texts_per_s:.1f} texts/s after a "
        f"{summary.load_seconds:.1f} s model load) with model "
        f"{summary.model_version}; rejected {summary.rejected} (see {job.rejects}); "
        f"skipped {summary.skipped_already_done} already done"
    )
    typer.echo(f"labels {dict(sorted(summary.labels.items()))}; actions {dict(sorted(summary.actions.items()))}")
    typer.echo(f"languages {dict(summary.languages.most_common())}")
    if summary.reject_reasons:
        typer.echo(f"reject reasons {dict(sorted(summary.reject_reasons.items()))}")
