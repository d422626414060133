"""`withyou train` end to end: transformer and baseline on the same split → bundle → reports → MLflow.

Writes artifacts/models/<model_version>/:
    bundle/                 the serving contract (training/export.py), parity-checked; with the linear stage and
                            the blend (training/linear.py) unless TrainConfig.linear_stage is off
    checkpoint/             the torch checkpoint + tokenizer.json (for `withyou export` and benchmarks)
    baseline.joblib         BaselineClassifier (predict_proba columns in LABELS order)
    train_report.json       config, data hash, per-epoch history, metrics for both models, parity, timings
    confusion_matrix.png    test-split confusion matrices, transformer beside baseline
"""

from __future__ import annotations

import json
import time
from collections import Counter
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from training.config import PRESET_TAG, TrainConfig
from training.dataset import DatasetSplits, check_opt_in, label_ids, load_dataset, tag_weight, trained_languages
from withyou import paths
from withyou.encoding import NORMALIZATION, PARENT_FIRST, POST_FIRST
from withyou.labels import LABEL_TO_ID, LABELS
from withyou.registry import MODEL_NAME

CHECKPOINT_INFO = "withyou_train.json"


@dataclass
class TrainOutcome:
    model_version: str
    model_dir: Path
    report: dict[str, Any]
    registered_version: str | None


def new_model_version(data_hash: str) -> str:
    """Sortable and traceable to its data: UTC time + the dataset hash prefix."""
    return f"{datetime.now(timezone.utc):%Y%m%d-%H%M%S}-{data_hash[:8]}"


def write_json(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def fit_baseline(config: TrainConfig, dataset: DatasetSplits) -> tuple[Any, dict[str, dict], float]:
    from training.baseline import BaselineClassifier
    from training.report import split_metrics

    started = time.perf_counter()
    baseline = BaselineClassifier(
        max_features=config.baseline_max_features, min_df=config.baseline_min_df, C=config.baseline_c, random_state=config.seed
    ).fit(dataset.train, [r.label for r in dataset.train])
    seconds = time.perf_counter() - started
    metrics = {}
    for split in ("validation", "test"):
        records = getattr(dataset, split)
        predicted = [LABEL_TO_ID[label] for label in baseline.predict(records)] if records else []
        metrics[split] = split_metrics(label_ids(records), predicted)
    return baseline, metrics, seconds


def sampling_multipliers(config: TrainConfig, dataset: DatasetSplits) -> dict[str, dict[str, float]]:
    """Per source and label sampling multipliers: sources.toml `weight` (copied into the manifest by build) and
    the seed corpus's `seed_corpus_weight`."""
    return {**dataset.manifest.get("sampling_weights", {}), "seed": {label: config.seed_corpus_weight for label in LABELS}}


def sample_weights(config: TrainConfig, dataset: DatasetSplits) -> np.ndarray:
    """Per training record, its weight in the transformer's epoch samples (mean 1): the linear stage's sample_weight."""
    from training.dataset import sampling_probabilities

    probabilities = sampling_probabilities(list(dataset.train), sampling_multipliers(config, dataset),
                                           config.source_temperature, config.label_temperature, config.tag_weights)
    return probabilities * len(probabilities)


def linear_sample_weights(config: TrainConfig, dataset: DatasetSplits) -> np.ndarray:
    """Per training record, the linear stage's sample_weight (mean 1), as TrainConfig.linear_weighting says."""
    if config.linear_weighting == "transformer":
        return sample_weights(config, dataset)
    from sklearn.utils.class_weight import compute_sample_weight

    if not dataset.train:
        return np.zeros(0)
    balanced = compute_sample_weight("balanced", [r.label for r in dataset.train])
    weights = balanced * np.array([tag_weight(r.tags, config.tag_weights) for r in dataset.train])
    return weights / weights.mean()


def run_training(config: TrainConfig) -> TrainOutcome:
    """Fit, evaluate, export, report and register one model. Raises DatasetMissingError, ConfigError, ParityError."""
    import joblib

    from training.export import export_bundle
    from training.fit import fit_transformer, predict_logits, resolve_base_model, save_checkpoint
    from training.linear import add_linear_stage
    from training.report import plot_confusion_matrices, print_comparison, split_metrics
    from training.tracking import TrainingRun, flatten_metrics

    started = time.perf_counter()
    resolve_base_model(config.base_model)  # a wrong path fails here, before an MLflow run is opened
    dataset = load_dataset(config.dataset_dir)
    check_opt_in(dataset, config.opt_in)
    model_version = new_model_version(dataset.content_hash)
    model_dir = paths.models_dir(config.artifacts_dir) / model_version
    run = TrainingRun(config.as_params(), dataset.content_hash, model_version, config.tags) if config.track else None
    with run or nullcontext():
        fit = fit_transformer(
            config, dataset.train, dataset.validation, sampling_multipliers=sampling_multipliers(config, dataset),
            on_epoch_end=run.log_epoch if run else None,
        )
        logits = {
            split: predict_logits(fit.model, fit.tokenizer, getattr(dataset, split), config.eval_batch_size)
            for split in ("validation", "test")
        }
        models = {"transformer": {s: split_metrics(label_ids(getattr(dataset, s)), logits[s].argmax(axis=1)) for s in logits}}
        baseline, models["baseline"], baseline_seconds = fit_baseline(config, dataset)

        save_checkpoint(fit, model_dir / "checkpoint")
        info = {"model_version": model_version, "base_model": config.base_model, "preset": config.tags.get(PRESET_TAG),
                "data_hash": dataset.content_hash, "max_length": config.max_length,
                "text_normalization": NORMALIZATION, "segments": POST_FIRST,
                "languages": list(trained_languages(dataset.train, config.language_min_rows_per_label))}
        write_json(model_dir / "checkpoint" / CHECKPOINT_INFO, info)
        joblib.dump(baseline, model_dir / "baseline.joblib")
        parity = export_bundle(
            fit.model, fit.tokenizer, model_dir / "bundle", max_length=config.max_length,
            metadata={**info, "metrics": models["transformer"], "mlflow_run_id": run.run_id if run else None},
            parity_records=dataset.validation, reference_logits=logits["validation"], exporter=config.exporter,
            opset=config.opset, fuse=config.fuse, keep_fp32=config.keep_fp32, max_abs_diff=config.parity_max_abs_diff,
            min_int8_agreement=config.parity_min_int8_agreement, int8_min_margin=config.parity_int8_min_margin,
        )
        linear = None
        if config.linear_stage:
            linear = add_linear_stage(
                model_dir / "bundle", dataset.train, linear_sample_weights(config, dataset), dataset.validation,
                logits["validation"], max_features=config.baseline_max_features, min_df=config.baseline_min_df,
                C=config.baseline_c,
            )
        plot_confusion_matrices(models, model_dir / "confusion_matrix.png")
        report = {
            **info,
            "config": config.as_params(),
            "dataset": {"path": str(dataset.path), "counts": {s: len(getattr(dataset, s)) for s in ("train", "validation", "test")},
                        "train_rows_per_language": dict(Counter(r.lang for r in dataset.train).most_common())},
            "history": [asdict(epoch) for epoch in fit.history],
            "best_epoch": fit.best_epoch,
            "stopped_by": fit.stopped_by,
            "steps": fit.steps,
            "train_examples_per_s": fit.train_examples_per_s,
            "timings_s": {"transformer_train": fit.train_seconds, "baseline_fit": baseline_seconds,
                          "total": time.perf_counter() - started},
            "models": models,
            "parity": asdict(parity),
            "linear_stage": linear,
        }
        write_json(model_dir / "train_report.json", report)
        registered = None
        if run:
            run.log_metrics({**flatten_metrics(models), **parity_metrics(parity),
                             "train_examples_per_s": fit.train_examples_per_s})
            run.log_params(parity_params(parity))
            run.log_outputs(model_dir)
            registered = run.register(description=f"{model_version} (data {dataset.content_hash[:12]})",
                                      tags=version_tags(parity, models))
            report["mlflow"] = {"run_id": run.run_id, "registered_model": MODEL_NAME, "version": registered}
            report["timings_s"]["total"] = time.perf_counter() - started
            run.log_report(write_json(model_dir / "train_report.json", report))
    print_comparison(models)
    return TrainOutcome(model_version, model_dir, report, registered)


def parity_metrics(parity: Any) -> dict[str, float]:
    """The export's parity figures and the int8 rule's agreements, as MLflow metrics."""
    metrics = {
        "parity.fp32_max_abs_diff": parity.fp32_max_abs_diff,
        "parity.int8_agreement": parity.int8_agreement,
        "parity.int8_action_agreement": parity.int8.action_agreement,
        "parity.int8_confident_examples": float(parity.int8.confident_examples),
    }
    if parity.int8.label_agreement is not None:
        metrics["parity.int8_label_agreement_confident"] = parity.int8.label_agreement
    return metrics


def version_tags(parity: Any, models: dict[str, dict[str, dict[str, Any]]]) -> dict[str, str]:
    """What an MLflow user looks for on a registered version: the graph shipped, the int8 rule's agreements and the
    transformer's test macro F1 (evaluation adds its figures and the gate verdict: evaluation/report.py)."""
    figures = {key: value for key, value in parity_metrics(parity).items() if "agreement" in key}
    macro_f1 = models.get("transformer", {}).get("test", {}).get("macro_f1")
    if macro_f1 is not None:
        figures["test_macro_f1"] = macro_f1
    figures = {key.removeprefix("parity."): f"{value:.4f}" for key, value in figures.items()}
    return {"shipped_graph": parity.shipped, **figures}


def parity_params(parity: Any) -> dict[str, str]:
    """Which graph model.onnx is, and the thresholds the int8 rule judged actions with, as MLflow params."""
    thresholds = parity.int8.thresholds
    return {
        "shipped_graph": parity.shipped,
        "int8_rule_thresholds": f"review={thresholds['review']:g} hide={thresholds['hide']:g} ({thresholds['source']})",
    }


def export_checkpoint(
    checkpoint_dir: Path, out_dir: Path, dataset_dir: Path | None = None, *, overwrite: bool = False, **export_options: Any
) -> tuple[Any, str]:
    """Re-export a saved checkpoint (checkpoint/ of a trained model) into a bundle, parity-checked on validation.

    Returns the ParityReport and what the parity set was ("validation split of DIR" or "probe posts").
    """
    from training.config import ConfigError
    from training.dataset import DatasetMissingError
    from training.export import export_bundle
    from training.fit import load_checkpoint

    info_path = Path(checkpoint_dir) / CHECKPOINT_INFO
    if not info_path.is_file():
        raise ConfigError(f"{checkpoint_dir} has no {CHECKPOINT_INFO}; pass the checkpoint/ folder of a trained model")
    info = json.loads(info_path.read_text(encoding="utf-8"))
    model, tokenizer = load_checkpoint(Path(checkpoint_dir), int(info["max_length"]))
    try:
        dataset = load_dataset(dataset_dir)
        validation, parity_set = dataset.validation, f"validation split of {dataset.path}"
    except DatasetMissingError:
        if dataset_dir is not None:
            raise
        validation, parity_set = None, "probe posts only (no built dataset found)"
    # a checkpoint from before text normalisation has no key: it was trained on raw text and is exported so;
    parity = export_bundle(
        model, tokenizer, out_dir, max_length=int(info["max_length"]),
        metadata={**info, "text_normalization": info.get("text_normalization"),
                  "segments": info.get("segments", PARENT_FIRST)},  # a checkpoint from before the order was recorded
        parity_records=validation, overwrite=overwrite, **export_options,
    )
    return parity, parity_set
