"""`withyou evaluate`: everything a person needs to trust (or reject) one model bundle, in one pass.

Beside the test split it scores the real-text benchmarks (evaluation/benchmarks.py) and the identity-term bias
suite (evaluation/bias.py) with the transformer, the TF-IDF baseline and alt-profanity-check side by side.

Order matters and is fixed: raw logits on validation and test → temperature fitted on validation → thresholds
chosen on *calibrated* validation P(harassing) (serving thresholds calibrated scores) → every test number
computed from calibrated probabilities → calibration.json and thresholds.json written into the bundle.
Test data never influences the temperature or the thresholds. Right after the thresholds, the int8 rule is judged
again at them (evaluation/int8.py); a bundle it switches to fp32 is evaluated again from the start.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from evaluation.benchmarks import benchmark_section, load_benchmarks, profanity_probs
from evaluation.bias import DEFAULT_TEMPLATES_PATH, load_bias_cases, run_bias_suite
from evaluation.calibration import calibrate, write_calibration
from evaluation.config import EvaluationConfig, EvaluationError
from evaluation.disclosures import DEFAULT_DISCLOSURES_PATH, run_disclosures
from evaluation.faithfulness import faithfulness_section
from evaluation.functional import DEFAULT_CASES_PATH, load_cases, run_functional
from evaluation.gate import SERVED, GateVerdict, compare, floor, same_label_set, scorecard
from evaluation.int8 import REFERENCE_GRAPH, int8_decision
from evaluation.languages import language_card, languages_section
from evaluation.metrics import (
    HARASSING,
    classification_metrics,
    expected_calibration_error,
    label_ids,
    reliability_bins,
)
from evaluation.peers import BaselineError, BaselineScorer, four_label_summary, peer_section
from evaluation.stages import fit_and_record_cascade, remember, stage_scorers, stages_section
from evaluation.slices import slice_masks, slice_metrics
from evaluation.thresholds import (
    choose_thresholds,
    disclosure_exposure,
    threshold_performance,
    write_thresholds,
)
from withyou import paths
from withyou.bundle import Classifier, Item, softmax
from withyou.integrity import read_labels, read_metadata
from withyou.labels import LABELS
from withyou.records import DataError, Record, read_jsonl
from withyou.registry import resolve_bundle


@dataclass
class EvalData:
    path: Path
    validation: list[Record]
    test: list[Record]
    manifest: dict[str, Any]


def load_eval_data(dataset_dir: Path | None) -> EvalData:
    """validation.jsonl, test.jsonl and manifest.json of a built dataset (train is not needed here)."""
    root = Path(dataset_dir) if dataset_dir else paths.dataset_dir()
    missing = [n for n in ("validation.jsonl", "test.jsonl", "manifest.json") if not (root / n).is_file()]
    if missing:
        raise EvaluationError(
            f"dataset {root} is missing {', '.join(missing)}: build it with `withyou data build` or pass --dataset DIR"
        )
    try:
        manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{root / 'manifest.json'}: not valid JSON ({exc.msg})") from None
    validation, test = read_jsonl(root / "validation.jsonl"), read_jsonl(root / "test.jsonl")
    for name, records in (("validation", validation), ("test", test)):
        if not records:
            raise EvaluationError(f"{root / (name + '.jsonl')} has no records")
    return EvalData(root, validation, test, manifest)


class BundleScorer:
    """A bundle's Classifier with outputs reordered to LABELS order, batched with a progress bar.

    The evaluation data, suites and benchmarks grade the label guide's labels (datasets/LABELS.md), so the bundle
    must have exactly those, in any order. A bundle with another label set is refused rather than graded on a
    subset: dropping a column would fit calibration and thresholds on a softmax the served model never computes.
    """

    def __init__(self, classifier: Classifier, temperature: float = 1.0) -> None:
        if sorted(classifier.labels) != sorted(LABELS):
            extra = [label for label in classifier.labels if label not in LABELS]
            missing = [label for label in LABELS if label not in classifier.labels]
            raise EvaluationError(
                f"the evaluation grades the labels of datasets/LABELS.md {list(LABELS)}; this bundle has "
                f"{list(classifier.labels)} (extra {extra}, missing {missing}): grade it with data for its own labels"
            )
        self.classifier = classifier
        self.columns = [classifier.labels.index(label) for label in LABELS]
        self.temperature = temperature

    def logits(self, texts: list[str], parent_texts: list[str | None], desc: str = "scoring") -> np.ndarray:
        """What the bundle's softmax reads, in LABELS order: the transformer's logits, or the blend's scores for a
        bundle with a linear stage (Classifier.scores) — what calibration and thresholds are fitted on."""
        step = self.classifier.batch_size * 4
        parts = []
        with tqdm(total=len(texts), desc=desc, unit="post", leave=False, disable=len(texts) <= step) as progress:
            for start in range(0, len(texts), step):
                parts.append(self.classifier.scores(texts[start : start + step], parent_texts[start : start + step]))
                progress.update(len(parts[-1]))
        raw = np.concatenate(parts) if parts else np.zeros((0, len(LABELS)), dtype=np.float32)
        return raw[:, self.columns]

    def record_logits(self, records: list[Record], desc: str) -> np.ndarray:
        return self.logits([r.text for r in records], [r.parent_text for r in records], desc)

    def __call__(self, texts, parent_texts) -> np.ndarray:
        return softmax(self.logits(list(texts), list(parent_texts)), self.temperature)


@dataclass
class Evaluation:
    """What one evaluation produced: JSON-ready metrics, arrays for the plots, and example rows for the HTML."""

    metrics: dict[str, Any]
    bundle_dir: Path
    y_test: np.ndarray
    test_probs: np.ndarray
    test_probs_uncalibrated: np.ndarray
    examples: dict[str, list[dict]] = field(default_factory=dict)


def evaluate_bundle(bundle_dir: Path, config: EvaluationConfig, data: EvalData | None = None) -> Evaluation:
    """Run the whole evaluation of one bundle (see module docstring) and return its results; writes the bundle
    files only when `config.write_bundle`."""
    bundle_dir = Path(bundle_dir)
    classifier = remember(Classifier.from_bundle(bundle_dir, batch_size=config.batch_size))
    data = data or load_eval_data(config.dataset_dir)
    extra = {str(path): _read_extra(path) for path in config.extra}  # a bad line fails before any scoring
    scorer = BundleScorer(classifier)
    y_val, y_test = label_ids([r.label for r in data.validation]), label_ids([r.label for r in data.test])
    val_logits = scorer.record_logits(data.validation, "validation")
    test_logits = scorer.record_logits(data.test, "test")

    calibration = calibrate(val_logits, y_val, n_bins=config.ece_bins)
    scorer.temperature = calibration.temperature
    val_probs, test_probs = softmax(val_logits, calibration.temperature), softmax(test_logits, calibration.temperature)
    test_raw = softmax(test_logits, 1.0)
    before_after = (("before", test_raw), ("after", test_probs))
    choice = choose_thresholds(
        y_val == HARASSING, val_probs[:, HARASSING],
        precision_target=config.precision_target, recall_target=config.recall_target,
    )
    int8 = int8_decision(
        bundle_dir, val_logits, lambda: fp32_logits(bundle_dir, data.validation, config.batch_size),
        harassing_index=HARASSING, temperature=calibration.temperature, thresholds=choice.thresholds,
        write=config.write_bundle,
    )
    if int8.get("switched") and classifier.metadata["parity"]["shipped"] == "int8":  # switched now: grade what ships
        return evaluate_bundle(bundle_dir, config, data)
    # from here on the classifier is the bundle as it will be served: the fitted temperature and thresholds (the
    # stage columns and the cascade's coverage run Classifier.staged_proba, which reads them)
    classifier.temperature, classifier.thresholds = calibration.temperature, choice.thresholds
    cascade = None
    if classifier.linear is not None:
        cascade = fit_and_record_cascade(classifier, data.validation, val_probs, choice.thresholds, config.write_bundle)
    metrics: dict[str, Any] = {
        "model_version": classifier.model_version,
        "labels": list(classifier.labels),
        "bundle": str(bundle_dir),
        "bundle_data_hash": classifier.metadata.get("data_hash"),
        "dataset": {"path": str(data.path), "content_hash": data.manifest.get("content_hash"),
                    "n_validation": len(data.validation), "n_test": len(data.test)},
        "config": config.as_json(),
        "test": classification_metrics(y_test, test_probs, config.ece_bins),
        "validation": {"macro_f1": classification_metrics(y_val, val_probs)["macro_f1"], "n": len(y_val)},
        "calibration": {
            **calibration.to_json(),
            **{f"test_ece_{when}": expected_calibration_error(y_test, p, config.ece_bins) for when, p in before_after},
            **{f"test_reliability_{when}": reliability_bins(y_test, p, config.ece_bins) for when, p in before_after},
        },
        "thresholds": {
            **choice.to_json(),
            **{split: threshold_performance(y == HARASSING, p[:, HARASSING], choice.thresholds)
               for split, y, p in (("validation", y_val, val_probs), ("test", y_test, test_probs))},
        },
        "int8": int8,
        "disclosure_exposure": disclosure_exposure(y_test, test_probs[:, HARASSING], choice.thresholds),
        "slices": slice_metrics(y_test, test_probs, slice_masks(data.test, config.short_words)),
        "notices": _data_notices(classifier, data),
        "gate": None,
        "peers": None,
        "stages": None,
    }
    evaluation = Evaluation(metrics, bundle_dir, y_test, test_probs, test_raw)
    evaluation.examples["test_errors"] = confident_errors(data.test, y_test, test_probs, config.shown_errors)
    _functional_section(evaluation, scorer, config)
    _canonical_section(evaluation, scorer, config, choice.thresholds.hide)
    _faithfulness_section(evaluation, classifier, data.test, config)
    baseline = _baseline_scorer(config, bundle_dir, metrics["notices"]) if config.peers else None
    if config.peers:
        metrics["peers"] = peer_section(data.validation, data.test, (val_probs, test_probs), baseline)
    columns = stage_scorers(classifier, choice.thresholds) if classifier.linear is not None else {}
    scorers = {SERVED: scorer, **columns,
               **({"baseline": baseline, "profanity_check": profanity_probs} if config.peers else {})}
    _real_text_sections(evaluation, data, scorers, choice.thresholds, config)
    metrics["languages"] = languages_section(  # one table per language (evaluation/languages.py)
        scorer, classifier.languages, data.test, test_probs, choice.thresholds,
        english_bias=metrics["bias"].get(SERVED), cases_path=config.cases_path, asked=config.languages,
    )
    if columns:
        _stages_section(evaluation, classifier, data, columns, choice.thresholds, cascade, config)
    metrics["floor"] = floor(metrics).to_json()
    metrics["extra"] = {name: _extra_metrics(scorer, name, records, config) for name, records in extra.items()}
    metrics["headline"] = headline(metrics)
    if config.write_bundle:
        write_calibration(bundle_dir, calibration)
        write_thresholds(bundle_dir, choice.thresholds)
    metrics["bundle_written"] = config.write_bundle
    return evaluation


def fp32_logits(bundle_dir: Path, records: list[Record], batch_size: int) -> np.ndarray:
    """`records`' logits through the bundle's model.fp32.onnx, in LABELS order (the int8 decision's reference)."""
    classifier = Classifier.from_bundle(bundle_dir, model_file=REFERENCE_GRAPH, batch_size=batch_size)
    return BundleScorer(classifier).record_logits(records, "validation, fp32 graph")


def _baseline_scorer(config: EvaluationConfig, bundle_dir: Path, notices: list[str]) -> BaselineScorer | None:
    """The TF-IDF baseline beside the bundle (or --baseline); a missing default is a notice, a missing named one an error."""
    path = config.baseline_path or bundle_dir.parent / "baseline.joblib"
    if Path(path).is_file():
        return BaselineScorer(path)
    if config.baseline_path is not None:
        raise BaselineError(f"no baseline model at {path}")
    notices.append(f"no baseline at {path}: baseline column skipped (pass --baseline PATH)")
    return None


def _real_text_sections(evaluation: Evaluation, data: EvalData, scorers: dict, thresholds, config: EvaluationConfig) -> None:
    """metrics["benchmarks"] (real-text held-out splits) and metrics["bias"] (identity-term suite), per model."""
    metrics = evaluation.metrics
    benchmarks = load_benchmarks(data.path)
    if not benchmarks:
        metrics["notices"].append(
            f"no real-text benchmarks under {data.path / 'benchmarks'} (the build had no public data): section skipped"
        )
    served = (SERVED, "cascade")  # the columns graded at the bundle's thresholds
    review = {name: thresholds.review for name in served}
    metrics["benchmarks"] = benchmark_section(benchmarks, scorers, review)
    cases = load_bias_cases(config.bias_templates_path or DEFAULT_TEMPLATES_PATH)
    metrics["bias"] = {
        name: run_bias_suite(score, cases, thresholds.model_dump() if name in served else None)
        for name, score in scorers.items() if score is not None
    }


def _stages_section(evaluation: Evaluation, classifier: Classifier, data: EvalData, columns: dict, thresholds,
                    cascade: dict | None, config: EvaluationConfig) -> None:
    """metrics["stages"] (evaluation/stages.py) and, per stage column, the own-split summary (metrics["peers"])
    and the functional and canonical suites — beside the served model's."""
    metrics = evaluation.metrics
    sets = {"validation": data.validation, "test": data.test, **load_benchmarks(data.path)}
    metrics["stages"] = stages_section(classifier, thresholds, cascade, sets, data.test)
    y_val, y_test = label_ids([r.label for r in data.validation]), label_ids([r.label for r in data.test])
    peers, suites = metrics["peers"] or {}, {}
    functional_path = config.cases_path or DEFAULT_CASES_PATH
    canonical_path = config.disclosures_path or DEFAULT_DISCLOSURES_PATH
    functional = load_cases(Path(functional_path)) if Path(functional_path).is_file() else None
    canonical = load_cases(Path(canonical_path)) if Path(canonical_path).is_file() else None
    for name, score in columns.items():
        peers[name] = four_label_summary(
            y_val, score([r.text for r in data.validation], [r.parent_text for r in data.validation]),
            y_test, score([r.text for r in data.test], [r.parent_text for r in data.test]),
        )
        suites[name] = {
            "functional": run_functional(score, functional, classifier.languages)["overall"] if functional else None,
            "canonical_disclosures": (
                {k: v for k, v in run_disclosures(score, canonical, thresholds.hide).items()
                 if k not in ("failures", "per_functionality")} if canonical else None
            ),
        }
    metrics["peers"] = peers
    metrics["stages"]["suites"] = suites


def gate_against(champion_ref: str, challenger: Evaluation, data: EvalData, config: EvaluationConfig) -> GateVerdict:
    """Evaluate the champion on exactly the challenger's data (test split, benchmarks, bias and functional suites)
    and compare the two scorecards (evaluation/gate.py); never trusts stored numbers, never writes the champion."""
    from dataclasses import replace

    champion_dir = resolve_bundle(champion_ref)
    same_label_set(challenger.metrics["labels"], read_labels(champion_dir, read_metadata(champion_dir)))
    champion_config = replace(config, write_bundle=False, peers=False, log_mlflow=False, shown_errors=0, extra=[],
                              languages=challenger.metrics["languages"]["graded"])  # the same language tables
    champion = evaluate_bundle(champion_dir, champion_config, data)
    return compare(
        scorecard(challenger.metrics), scorecard(champion.metrics), config.tolerance,
        challenger_version=challenger.metrics["model_version"],
        champion_version=f"{champion.metrics['model_version']} ({champion_ref})",
        challenger_labels=challenger.metrics["labels"], champion_labels=champion.metrics["labels"],
    )


def _data_notices(classifier: Classifier, data: EvalData) -> list[str]:
    trained_on, evaluated_on = classifier.metadata.get("data_hash"), data.manifest.get("content_hash")
    if trained_on and evaluated_on and trained_on != evaluated_on:
        return [
            f"the bundle was trained on dataset {str(trained_on)[:12]} but is evaluated on {str(evaluated_on)[:12]}: "
            "its test split may overlap the data the model was trained on"
        ]
    return []


def confident_errors(records: list[Record], y_true: np.ndarray, probs: np.ndarray, limit: int) -> list[dict]:
    """The `limit` most confident wrong predictions on test (for people to read; never written to metrics.json)."""
    predicted = probs.argmax(axis=1)
    wrong = np.nonzero(predicted != y_true)[0]
    wrong = wrong[np.argsort(-probs[wrong, predicted[wrong]], kind="stable")][:limit]
    return [
        {"id": records[i].id, "source": records[i].source, "text": records[i].text,
         "parent_text": records[i].parent_text, "label": records[i].label, "predicted": LABELS[predicted[i]],
         "confidence": float(probs[i, predicted[i]]), "p_harassing": float(probs[i, HARASSING])}
        for i in wrong
    ]


def _functional_section(evaluation: Evaluation, scorer: BundleScorer, config: EvaluationConfig) -> None:
    _case_suite(
        evaluation, "functional", "functional_failures", config.cases_path, DEFAULT_CASES_PATH,
        missing="functional cases file", absent="functional test cases", skipped="functional suite skipped",
        run=lambda cases: run_functional(scorer, cases, scorer.classifier.languages),
    )  # fmt: skip


def _canonical_section(evaluation: Evaluation, scorer: BundleScorer, config: EvaluationConfig, hide: float) -> None:
    """metrics["canonical_disclosures"] (evaluation/disclosures.py) with the calibrated scorer and the fitted hide
    threshold; the report lists the cases not read as disclosures with their text."""
    _case_suite(
        evaluation, "canonical_disclosures", "canonical_failures", config.disclosures_path, DEFAULT_DISCLOSURES_PATH,
        missing="canonical disclosures file", absent="canonical disclosures", skipped="slice skipped",
        run=lambda cases: run_disclosures(scorer, cases, hide),
    )  # fmt: skip


def _case_suite(
    evaluation: Evaluation,
    key: str,
    failures_key: str,
    given: Path | None,
    default: Path,
    *,
    missing: str,
    absent: str,
    skipped: str,
    run: Callable[[list], dict],
) -> None:
    """A suite of written cases into metrics[key] and its failures, with their text, into examples[failures_key].
    A file given that does not exist is an error; a missing default file is a notice and the suite is skipped."""
    path = given or default
    if not Path(path).is_file():
        if given:
            raise EvaluationError(f"{missing} {path} does not exist")
        evaluation.metrics["notices"].append(f"no {absent} at {path}: {skipped}")
        evaluation.metrics[key] = None
        return
    cases = load_cases(Path(path))
    result = run(cases)
    by_id = {c.id: c for c in cases}
    evaluation.examples[failures_key] = [
        {**f, "text": by_id[f["id"]].text, "parent_text": by_id[f["id"]].parent_text} for f in result["failures"]
    ]
    evaluation.metrics[key] = {"cases_path": str(path), **result}


def _faithfulness_section(
    evaluation: Evaluation, classifier: Classifier, test: list[Record], config: EvaluationConfig
) -> None:
    evaluation.metrics["faithfulness"] = None
    evaluation.examples["explained"] = []
    if config.faithfulness_posts and test:
        items = [Item(text=r.text, parent_text=r.parent_text, id=r.id) for r in test]
        result, shown = faithfulness_section(classifier, items, n=config.faithfulness_posts)
        evaluation.metrics["faithfulness"], evaluation.examples["explained"] = result, shown


def _read_extra(path: Path) -> list[Record]:
    if not Path(path).is_file():
        raise EvaluationError(f"extra labelled file {path} does not exist")
    records = read_jsonl(Path(path))
    if not records:
        raise EvaluationError(f"extra labelled file {path} has no records")
    return records


def _extra_metrics(scorer: BundleScorer, name: str, records: list[Record], config: EvaluationConfig) -> dict:
    probs = softmax(scorer.record_logits(records, Path(name).name), scorer.temperature)
    return classification_metrics(label_ids([r.label for r in records]), probs, config.ece_bins)


def headline(metrics: dict[str, Any]) -> dict[str, Any]:
    """The numbers a reader needs first (also logged to MLflow as eval_* metrics)."""
    test, thresholds, functional = metrics["test"], metrics["thresholds"], metrics.get("functional")
    int8 = metrics.get("int8") or {}
    return {
        "test_macro_f1": test["macro_f1"],
        "test_accuracy": test["accuracy"],
        **{f"test_f1_{label}": test["per_label"][label]["f1"] for label in LABELS},
        "ece_before": metrics["calibration"]["test_ece_before"],
        "ece_after": metrics["calibration"]["test_ece_after"],
        "temperature": metrics["calibration"]["temperature"],
        "threshold_review": thresholds["review"],
        "threshold_hide": thresholds["hide"],
        "hide_precision_test": thresholds["test"]["hide"]["precision"],
        "hide_recall_test": thresholds["test"]["hide"]["recall"],
        "review_precision_test": thresholds["test"]["review_or_hide"]["precision"],
        "review_recall_test": thresholds["test"]["review_or_hide"]["recall"],
        "disclosure_to_harassing_rate": test["disclosure_to_harassing_rate"],
        "disclosure_hide_share": metrics["disclosure_exposure"]["hide_share"],
        "disclosure_review_or_hide_share": metrics["disclosure_exposure"]["review_or_hide_share"],
        "functional_pass_rate": functional["overall"]["pass_rate"] if functional else None,
        "functional_pass_rate_with_context": functional["overall"]["pass_rate_with_context"] if functional else None,
        "functional_pass_rate_without_context": (
            functional["overall"]["pass_rate_without_context"] if functional else None
        ),
        **{f"real_{key}": value for key, value in scorecard(metrics).items()
           if key not in ("test_macro_f1", "disclosure_to_harassing_rate", "functional_pass_rate")
           and not key.startswith("canonical_") and key not in language_card(metrics)},
        **language_card(metrics),
        **{key: (metrics.get("canonical_disclosures") or {}).get(name)
           for key, name in (("canonical_harassing_rate", "harassing_rate"), ("canonical_hide_share", "hide_share"))},
        "int8_label_agreement_fitted": int8.get("label_agreement") if int8.get("checked") else None,
        "int8_action_agreement_fitted": int8.get("action_agreement") if int8.get("checked") else None,
        "bias_hide_share": ((metrics.get("bias") or {}).get(SERVED) or {}).get("overall", {}).get("hide_share"),
    }
