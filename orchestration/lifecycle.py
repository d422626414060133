"""The model lifecycle, written once: build → train → evaluate → gate → promote.

`withyou up` (first model, or `--retrain`) and `withyou retrain` (with reviewed labels) both call `run_lifecycle`;
they differ only in what they build with. The training preset (TrainConfig.preset) decides the data too: the
build reads the opt-in source sets it trains on (`multilingual`: the seed corpus in other languages and the
multilingual public sources). Each step is the stage's own code:

    build      training.build.build_dataset          skipped when the dataset exists, was built with the preset's
                                                       opt-in sets, and no rebuild is asked
    train      training.pipeline.run_training        registers version N with alias "challenger"
    evaluate   evaluation.cli.run_evaluation          calibration + thresholds into the bundle, the report (one
                                                       table per language the bundle lists), and —
    gate                                               when a champion exists — the gate against it (exit 1: worse)
    floor                                              the promotion floor (evaluation/gate.py `floor`): the model
                                                       must beat the TF-IDF baseline on the real-text benchmarks and
                                                       label no canonical disclosure harassing or hidden, and
                                                       each listed language must pass its bars (exit 3 below it;
                                                       evaluation/languages.py), the first model included
    promote    training.tracking.promote              alias "champion" → N, only when the floor and (with a
                                                       champion) the gate passed, the caller allows promotion, and
                                                       the model is not a --fast smoke model (those stay challenger)

Nothing promotes a model the floor or the gate refused. Without real-text benchmarks (a build without public data)
the floor has nothing to check: the model is promoted and the notes say the floor was not checked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from training.config import DEFAULT_PRESET, FAST_PRESET
from withyou import paths
from withyou.registry import CHAMPION, FLOOR_NONE

PASSED, GATE_FAILED, BAD_INPUT, FLOOR_FAILED = 0, 1, 2, 3
FAST_PARITY_MIN_INT8_AGREEMENT = 0.75
"""A dozen --fast steps leave near-tied logits that int8 rounding flips (95-98 % agreement on the seed build):
the smoke preset's bar for both int8-rule agreements (training/parity.py). When no post reaches the rule's 0.1
top-2 margin, the fused fp32 graph ships — same answers, larger file. Full runs keep training's 99.5 %."""


class LifecycleError(RuntimeError):
    """A step could not run; the message says which and why."""


@dataclass
class LifecycleConfig:
    preset: str = DEFAULT_PRESET
    """The training preset (TrainConfig.preset); the build reads the opt-in source sets it trains on. "fast", the
    smoke preset, is never promoted."""
    dataset_dir: Path | None = None
    """Where the dataset is (or is built) [artifacts/dataset]."""
    rebuild: bool = False
    """Build even when the dataset exists (retrain: the review labels must be merged in)."""
    data_dir: Path | None = None
    include_public: bool = True
    seed_dir: Path | None = None
    """The project's own labelled corpus the build starts from [datasets/seed]; a retrain must rebuild from the
    same corpus the dataset was built from, or the base split moves."""
    seed: int | None = None
    """Build seed [training/build.py default]."""
    extra: list[Path] = field(default_factory=list)
    """Labelled JSONL files added to the build (training/build.py add_extra_records)."""
    champion: str = CHAMPION
    """The model to gate against, when it exists."""
    tolerance: float | None = None
    """Gate slack [evaluation's default]."""
    promote: bool = True
    train_overrides: dict[str, Any] = field(default_factory=dict)
    """TrainConfig fields over the preset (max_steps, learning_rate, parity_min_int8_agreement, tags)."""


@dataclass
class LifecycleOutcome:
    exit_code: int
    model_version: str
    bundle_dir: Path
    registered_version: str | None
    run_id: str | None
    manifest: dict[str, Any]
    gated_against: str | None = None
    gate: dict[str, Any] | None = None
    floor: dict[str, Any] | None = None
    promoted: bool = False
    notes: list[str] = field(default_factory=list)


def train_config(preset: str, overrides: dict[str, Any]) -> Any:
    """The TrainConfig of a new model: the preset plus the given overrides (the fast preset with its int8 bar)."""
    from training.config import TrainConfig

    if preset == FAST_PRESET:
        overrides = {"parity_min_int8_agreement": FAST_PARITY_MIN_INT8_AGREEMENT, **overrides}
    return TrainConfig.preset(preset, **overrides)


def champion_exists(ref: str) -> bool:
    """Whether the gate has something to compare with (checked before any training)."""
    from withyou.bundle import BundleError
    from withyou.registry import resolve_bundle

    try:
        resolve_bundle(ref)
    except (BundleError, ValueError, LookupError):
        return False
    return True


def ensure_dataset(config: LifecycleConfig, opt_in: tuple[str, ...], echo: Callable[[str], None]) -> dict[str, Any]:
    """The dataset's manifest, building it first with the `opt_in` source sets when it is missing, a rebuild is
    asked, or it was built with other opt-in sets (a model must not train on languages its preset leaves out, nor
    miss those it asks for)."""
    from training.build import BuildConfig, Notices, build_dataset

    dataset_dir = Path(config.dataset_dir) if config.dataset_dir else paths.dataset_dir()
    manifest_path = dataset_dir / "manifest.json"
    if manifest_path.is_file() and not config.rebuild:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        built_with = tuple((manifest.get("config") or {}).get("opt_in") or ())
        if set(built_with) == set(opt_in):
            return manifest
        echo(f"notice: {dataset_dir} was built with opt-in {', '.join(built_with) or 'none'}; the {config.preset} "
             f"preset trains on opt-in {', '.join(opt_in) or 'none'}: rebuilding it")
    chosen = {"seed": config.seed, "seed_dir": config.seed_dir}
    build = BuildConfig(data_dir=config.data_dir, out_dir=dataset_dir, include_public=config.include_public,
                        opt_in=opt_in, extra=tuple(str(p) for p in config.extra),
                        **{name: value for name, value in chosen.items() if value is not None})  # fmt: skip
    manifest = build_dataset(build, notices=Notices(lambda line: echo(f"notice: {line}")))
    echo(f"dataset {manifest['content_hash'][:12]}: {manifest['rows']}")
    return manifest


def run_lifecycle(config: LifecycleConfig, echo: Callable[[str], None] = print) -> LifecycleOutcome:
    """Build (if needed) → train → evaluate (+ gate when a champion exists) → promote when allowed."""
    from training.pipeline import run_training
    from training.tracking import promote

    train = train_config(config.preset, {"dataset_dir": config.dataset_dir, **config.train_overrides})
    against = config.champion if champion_exists(config.champion) else None
    echo("step 1/4 build the dataset" + (f" with opt-in {', '.join(train.opt_in)}" if train.opt_in else ""))
    manifest = ensure_dataset(config, train.opt_in, echo)
    echo(f"step 2/4 train the {config.preset} preset (transformer + baseline) and export the bundle")
    trained = run_training(train)
    echo(f"model {trained.model_version} → {trained.model_dir}")
    bundle_dir = trained.model_dir / "bundle"
    echo("step 3/4 evaluate: calibration, thresholds, report" + (f", gate against {against}" if against else ""))
    code, metrics = evaluate(config, bundle_dir, trained.model_version, against)
    outcome = LifecycleOutcome(
        exit_code=code, model_version=trained.model_version, bundle_dir=bundle_dir,
        registered_version=trained.registered_version, run_id=(trained.report.get("mlflow") or {}).get("run_id"),
        manifest=manifest, gated_against=against, gate=metrics.get("gate"), floor=metrics.get("floor"),
    )  # fmt: skip
    echo("step 4/4 promote")
    floor = outcome.floor or {}
    if code == BAD_INPUT:
        outcome.notes.append("evaluation could not run; see its error above; not promoted")
    elif not floor.get("passed"):
        outcome.exit_code = FLOOR_FAILED
        outcome.notes.append(f"refused: model {trained.model_version} fails the promotion floor: {floor.get('line')}; "
                             "not promoted or served")
    elif code == GATE_FAILED:
        outcome.notes.append(f"the gate refused it: worse than {against} on a gated number; not promoted")
    elif config.preset == FAST_PRESET:
        outcome.notes.append(f"not promoted: a --fast smoke model is never champion (registered version "
                             f"{trained.registered_version} stays challenger)")
    elif not trained.registered_version:
        outcome.notes.append("not promoted: the model was not registered (training ran without MLflow)")
    elif not config.promote:
        outcome.notes.append("not promoted (--no-promote)")
    else:
        moved = promote(trained.registered_version)
        outcome.promoted = True
        outcome.notes.append(f"promoted withyou version {moved['version']} to champion"
                             + (f" (was version {moved['previous']})" if moved["previous"] else ""))
    if outcome.floor and outcome.floor["status"] == FLOOR_NONE:
        outcome.notes.append(outcome.floor["line"])
    return outcome


def evaluate(
    config: LifecycleConfig, bundle_dir: Path, model_version: str, against: str | None
) -> tuple[int, dict[str, Any]]:
    """`withyou evaluate BUNDLE [--against champion]`; (exit code, its metrics.json, {} when none was written)."""
    from evaluation.cli import run_evaluation
    from evaluation.run import EvaluationConfig

    out_dir = paths.evaluations_dir() / model_version
    tolerance = {} if config.tolerance is None else {"tolerance": config.tolerance}
    evaluation = EvaluationConfig(dataset_dir=config.dataset_dir, out_dir=out_dir, **tolerance)
    code = run_evaluation(str(bundle_dir), evaluation, against)
    metrics_path = out_dir / "metrics.json"
    return code, json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
