"""CLI commands of the evaluation stage (registered into the `withyou` app by orchestration/cli.py).

`withyou evaluate MODEL` exit codes: 0 done (and the gate passed, if asked), 1 the gate failed (the challenger is
worse than the champion), 2 the input was unusable (missing dataset, bad file line, unknown model reference).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from evaluation.config import EvaluationConfig

D = EvaluationConfig()
"""The defaults every option shows: declared once, in evaluation/config.py."""
GATE_FAILED = 1
BAD_INPUT = 2


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    from evaluation.explain_cli import explain_command

    app.command("evaluate")(evaluate)
    app.command("explain")(explain_command)


def evaluate(
    model: str = typer.Argument(
        ..., help="Bundle reference: a directory, models:/withyou@ALIAS, runs:/…, champion, challenger.",
        show_default=False,
    ),
    dataset: Optional[Path] = typer.Option(None, help="Built dataset directory [artifacts/dataset]."),
    extra: list[Path] = typer.Option([], help="Extra labelled JSONL file to score (repeatable)."),
    out: Optional[Path] = typer.Option(None, help="Report directory [artifacts/evaluations/<version>]."),
    against: Optional[str] = typer.Option(None, help="Gate against this model (e.g. champion); exit 1 if worse."),
    tolerance: float = typer.Option(
        D.tolerance, min=0.0, help="Gate slack on every gated number (own test, real-text benchmarks, bias, functional)."
    ),
    no_write_bundle: bool = typer.Option(False, "--no-write-bundle", help="Do not write calibration/thresholds."),
    cases: Optional[Path] = typer.Option(None, help="Functional cases JSONL [evaluation/functional/cases.jsonl]."),
    baseline: Optional[Path] = typer.Option(None, help="Baseline joblib [beside the bundle directory]."),
    precision_target: float = typer.Option(D.precision_target, help="Harassing precision the hide threshold must reach."),
    recall_target: float = typer.Option(D.recall_target, help="Harassing recall the review threshold must reach."),
    ece_bins: int = typer.Option(D.ece_bins, min=1, help="Equal-width bins for expected calibration error."),
    short_words: int = typer.Option(D.short_words, min=1, help="Posts with fewer words form the 'short' slice."),
    batch_size: int = typer.Option(D.batch_size, min=1, help="Posts per ONNX batch."),
    no_peers: bool = typer.Option(False, "--no-peers", help="Skip the baseline and alt-profanity-check columns."),
    no_mlflow: bool = typer.Option(False, "--no-mlflow", help="Do not log the report to the model's MLflow run."),
    shown_errors: int = typer.Option(D.shown_errors, min=0, help="Most confident test errors listed in the report."),
    faithfulness_posts: int = typer.Option(
        D.faithfulness_posts, min=0, help="Test posts whose explanations are graded for faithfulness (0 skips it)."
    ),
    language: list[str] = typer.Option(
        [], help="Also grade this language (repeatable), e.g. fr for what a model that does not list it does with "
        "it; the bundle's own languages are always graded (evaluation/languages.py)."
    ),
) -> None:
    """Evaluate a model bundle on the test split: metrics, calibration, thresholds, functional suite, report, gate."""
    from evaluation.config import EvaluationError

    try:
        config = EvaluationConfig(
            dataset_dir=dataset, extra=list(extra), out_dir=out, cases_path=cases, baseline_path=baseline,
            precision_target=precision_target, recall_target=recall_target, ece_bins=ece_bins,
            short_words=short_words, batch_size=batch_size, tolerance=tolerance, write_bundle=not no_write_bundle,
            log_mlflow=not no_mlflow, peers=not no_peers, shown_errors=shown_errors,
            faithfulness_posts=faithfulness_posts, languages=list(language),
        )
    except EvaluationError as exc:
        raise typer.BadParameter(str(exc)) from None
    raise typer.Exit(run_evaluation(model, config, against))


def run_evaluation(model: str, config, against: str | None) -> int:
    """Evaluate, gate, write the report, log to MLflow, print the verdict; returns the exit code."""
    from evaluation.gate import GateError
    from evaluation.peers import BaselineError
    from evaluation.report import log_to_mlflow, write_report
    from evaluation.run import EvaluationError, evaluate_bundle, gate_against, load_eval_data
    from withyou.registry import resolve_bundle
    from evaluation.thresholds import ThresholdError
    from withyou import paths
    from withyou.bundle import BundleError
    from withyou.records import DataError

    try:
        bundle_dir = resolve_bundle(model)
        data = load_eval_data(config.dataset_dir)
        evaluation = evaluate_bundle(bundle_dir, config, data)
        verdict = gate_against(against, evaluation, data, config) if against else None
    except (EvaluationError, DataError, BundleError, ThresholdError, BaselineError, GateError) as exc:
        typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
        return BAD_INPUT
    if verdict:
        evaluation.metrics["gate"] = verdict.to_json()
    out_dir = config.out_dir or paths.evaluations_dir() / evaluation.metrics["model_version"]
    html_path, metrics_path = write_report(evaluation, out_dir)
    for notice in evaluation.metrics["notices"]:
        typer.secho(f"notice: {notice}", fg=typer.colors.YELLOW, err=True)
    if config.log_mlflow:
        typer.echo(log_to_mlflow(evaluation, [html_path, metrics_path]))
    print_summary(evaluation.metrics, html_path, metrics_path)
    if verdict:
        typer.secho(verdict.summary(), fg=typer.colors.GREEN if verdict.passed else typer.colors.RED)
        return 0 if verdict.passed else GATE_FAILED
    return 0


def print_summary(metrics: dict, html_path: Path, metrics_path: Path) -> None:
    h = metrics["headline"]

    def pct(value):
        return "n/a" if value is None else f"{100 * value:.1f}%"

    lines = [
        f"model {metrics['model_version']} on {metrics['dataset']['n_test']} test posts",
        f"  macro-F1 {h['test_macro_f1']:.4f}  accuracy {h['test_accuracy']:.4f}  "
        + "  ".join(f"F1[{k[8:]}] {v:.3f}" for k, v in h.items() if k.startswith("test_f1_")),
        f"  ECE {h['ece_before']:.4f} → {h['ece_after']:.4f} (temperature {h['temperature']:.3f})",
        f"  thresholds: review ≥ {h['threshold_review']:.4f} (test P {h['review_precision_test']:.3f} "
        f"R {h['review_recall_test']:.3f}), hide ≥ {h['threshold_hide']:.4f} "
        f"(test P {h['hide_precision_test']:.3f} R {h['hide_recall_test']:.3f})",
        f"  disclosures: {pct(h['disclosure_to_harassing_rate'])} predicted harassing, "
        f"{pct(h['disclosure_hide_share'])} hidden, {pct(h['disclosure_review_or_hide_share'])} hidden or reviewed",
        f"  functional pass rate {pct(h['functional_pass_rate'])} (cases with a parent: "
        f"{pct(h['functional_pass_rate_with_context'])} with it, {pct(h['functional_pass_rate_without_context'])} without)",
        *canonical_lines(metrics),
        *benchmark_lines(metrics),
        *language_lines(metrics),
        f"  promotion floor ({metrics['floor']['status']}): {metrics['floor']['line']}",
        f"  bundle calibration/thresholds {'written' if metrics['bundle_written'] else 'not written'}",
        f"report {html_path}",
        f"metrics {metrics_path}",
    ]
    typer.echo("\n".join(lines))


def canonical_lines(metrics: dict) -> list[str]:
    """The canonical-disclosure slice (evaluation/disclosures.py): any harassing or hidden case blocks promotion."""
    canonical = metrics.get("canonical_disclosures")
    if not canonical:
        return []
    return [f"  canonical disclosures: {canonical['disclosure']} of {canonical['n']} read as disclosure, "
            f"{canonical['harassing']} labelled harassing, {canonical['hidden']} hidden (harassing or hidden blocks promotion)"]


def benchmark_lines(metrics: dict) -> list[str]:
    """Real-text benchmarks and the bias suite, one line per number, every model side by side."""

    def row(title: str, values: dict[str, str]) -> str:
        return f"  {title:<44} " + "  ".join(f"{model} {value}" for model, value in values.items())

    def pct(value):
        return "n/a" if value is None else f"{100 * value:.1f}%"

    benchmarks, lines = metrics.get("benchmarks") or {}, []
    for name in ("edos", "misogyny_reddit"):
        if name in benchmarks:
            lines.append(row(f"{name} harassing-vs-rest macro-F1",
                             {m: f"{b['macro_f1']:.3f}" for m, b in benchmarks[name].items()}))
    if "crowdcounter" in benchmarks:
        cc = benchmarks["crowdcounter"]
        lines.append(row("crowdcounter counter-speech labelled harassing",
                         {m: pct(b["counter_speech_harassing_rate"]) for m, b in cc.items()}))
        lines.append(row("crowdcounter hate posts caught", {m: pct(b["hate_caught_rate"]) for m, b in cc.items()}))
    for model, bias in (metrics.get("bias") or {}).items():
        overall = bias["overall"]
        lines.append(f"  bias suite [{model}]: non-harassing labelled harassing {pct(overall['fpr'])}, hidden "
                     f"{pct(overall['hide_share'])}, mean BPSN AUC {bias['generalized_mean']['bpsn_auc'] or float('nan'):.3f}")
    return lines


def language_lines(metrics: dict) -> list[str]:
    """One line per graded language (evaluation/languages.py), with its bars' verdict when the bundle lists it."""

    def pct(value):
        return "n/a" if value is None else f"{100 * value:.1f}%"

    lines = []
    for lang, table in ((metrics.get("languages") or {}).get("tables") or {}).items():
        heldout, card, bars = table["heldout"], table["card"], table["bars"]
        f1 = "n/a" if heldout["macro_f1"] is None else f"{heldout['macro_f1']:.3f}"
        verdict = "" if not bars else " — bars " + ("passed" if bars["passed"] else "FAILED: " + "; ".join(bars["failures"]))
        lines.append(
            f"  [{lang}{', listed' if table['listed'] else ''}] held-out seed macro-F1 {f1} ({heldout['n']} posts), "
            f"functional {pct(card['functional_pass_rate'])}, bias: non-harassing labelled harassing "
            f"{pct(card['bias_false_positive_rate'])}, disclosures hidden {table['disclosures']['hidden']} of "
            f"{table['disclosures']['n']}{verdict}"
        )
    return lines
