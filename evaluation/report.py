"""The evaluation report: one self-contained HTML file (plots embedded as base64 PNG) plus metrics.json.

The HTML shows test posts, and test posts are attacker-controlled text, so the jinja2 environment is created with
autoescape=True and the template never marks data as safe: a post containing `<script>` is shown, not run.
metrics.json holds numbers and ids only, never post text (it is logged to MLflow).
"""

from __future__ import annotations

import json
import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jinja2
import numpy as np

from evaluation import plots
from evaluation.metrics import HARASSING
from evaluation.run import Evaluation

TEMPLATE_DIR = Path(__file__).resolve().parent
TEMPLATE_NAME = "report.html.j2"


def build_figures(evaluation: Evaluation) -> dict[str, str]:
    """Name → base64 PNG for every plot the report shows."""
    metrics = evaluation.metrics
    calibration, thresholds = metrics["calibration"], metrics["thresholds"]
    figures = {
        "confusion_matrix": plots.confusion_matrix_plot(metrics["test"]["confusion_matrix"]),
        "pr_curves": plots.pr_curves_plot(evaluation.y_test, evaluation.test_probs),
        "reliability": plots.reliability_plot(
            calibration["test_reliability_before"], calibration["test_reliability_after"],
            calibration["test_ece_before"], calibration["test_ece_after"],
        ),
        "harassing_scores": plots.harassing_score_plot(
            evaluation.y_test, evaluation.test_probs[:, HARASSING], thresholds["review"], thresholds["hide"]
        ),
    }
    if (metrics.get("bias") or {}).get("model"):
        figures["bias"] = plots.bias_plot({name: b["per_term"] for name, b in metrics["bias"].items()})
    if metrics.get("functional"):
        figures["functionality"] = plots.functionality_plot(metrics["functional"]["per_functionality"])
    return figures


def _pct(value: Any, digits: int = 1) -> str:
    return "—" if value is None else f"{100 * value:.{digits}f}%"


def _num(value: Any, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def render_html(evaluation: Evaluation, figures: dict[str, str]) -> str:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.filters["pct"] = _pct
    environment.filters["num"] = _num
    template = environment.get_template(TEMPLATE_NAME)
    return template.render(
        m=evaluation.metrics,
        figures=figures,
        examples=evaluation.examples,
        generated_at=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )


def _json_ready(value: Any) -> Any:
    """NaN/inf → None (JSON has no NaN), numpy scalars → Python numbers."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(evaluation: Evaluation, out_dir: Path) -> tuple[Path, Path]:
    """Write report.html and metrics.json into `out_dir`; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    html_path, metrics_path = out_dir / "report.html", out_dir / "metrics.json"
    html_path.write_text(render_html(evaluation, build_figures(evaluation)), encoding="utf-8")
    metrics_path.write_text(json.dumps(_json_ready(evaluation.metrics), indent=2) + "\n", encoding="utf-8")
    return html_path, metrics_path


VERSION_TAG_FIGURES = ("test_macro_f1", "threshold_review", "threshold_hide", "ece_after", "hide_precision_test",
                       "hide_recall_test", "disclosure_hide_share", "functional_pass_rate",
                       "int8_label_agreement_fitted", "int8_action_agreement_fitted")
"""Headline numbers that evaluation also sets as tags (eval_<name>) on the run's registered versions."""


def tag_registered_versions(client: Any, run_id: str, metrics: dict[str, Any]) -> list[str]:
    """Tag every registered version of run `run_id` with the headline figures, the baseline floor's verdict
    (FLOOR_TAG, which `withyou promote` reads) and, when a gate ran, its verdict ("PASS vs champion 3" / "FAIL vs
    champion 3"), so the registry shows them beside the version."""
    from withyou.registry import FLOOR_TAG, MODEL_NAME

    headline = metrics["headline"]
    tags = {f"eval_{name}": f"{headline[name]:.4f}" for name in VERSION_TAG_FIGURES
            if isinstance(headline.get(name), (int, float)) and math.isfinite(headline[name])}  # fmt: skip
    if metrics.get("floor"):
        tags[FLOOR_TAG] = f"{metrics['floor']['status']}: {metrics['floor']['line']}"
    if (metrics.get("int8") or {}).get("shipped"):
        tags["shipped_graph"] = metrics["int8"]["shipped"]  # evaluation may have switched it (evaluation/int8.py)
    if metrics.get("gate"):
        gate = metrics["gate"]
        tags["gate"] = f"{'PASS' if gate['passed'] else 'FAIL'} vs champion {gate['champion']['model_version']}"
    versions = [str(v.version) for v in client.search_model_versions(f"name = '{MODEL_NAME}' and run_id = '{run_id}'")]
    for version in versions:
        for key, value in tags.items():
            client.set_model_version_tag(MODEL_NAME, version, key, value)
    return versions


def log_to_mlflow(evaluation: Evaluation, files: list[Path]) -> str:
    """Log the headline numbers (as eval_*) and the report files to the model's MLflow run.

    The run id comes from the bundle's metadata.json (`mlflow_run_id`, written by training). When evaluation wrote
    calibration.json and thresholds.json into the bundle (and the cascade's bar into blend.json, for a bundle with
    a linear stage), they (and metadata.json, which holds their checksums) are also uploaded over the run's logged
    `bundle/`
    copy, which the registered model version ("withyou", alias challenger/champion) serves from — otherwise
    `models:/withyou@champion` would hand serving the placeholder thresholds — and the version's bundle digest is
    updated (withyou/registry.py checks it before serving). Returns a line saying what
    happened; no run id means nothing to log to, which is a notice, not an error.
    """
    from withyou.bundle import read_json

    run_id = read_json(evaluation.bundle_dir / "metadata.json").get("mlflow_run_id")
    if not run_id:
        return "bundle metadata has no mlflow_run_id: evaluation not logged to MLflow"
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    from withyou import paths
    from withyou.registry import record_bundle_digest

    client = MlflowClient(tracking_uri=paths.mlflow_tracking_uri())
    try:
        client.get_run(run_id)
    except MlflowException:
        return f"MLflow run {run_id} not found at {paths.mlflow_tracking_uri()}: evaluation not logged to MLflow"
    timestamp = int(datetime.now(timezone.utc).timestamp() * 1000)
    numbers = [
        Metric(f"eval_{key}", float(value), timestamp, 0)
        for key, value in evaluation.metrics["headline"].items()
        if isinstance(value, (int, float)) and math.isfinite(value)
    ]
    client.log_batch(run_id, metrics=numbers)
    for path in files:
        client.log_artifact(run_id, str(path), artifact_path="evaluation")
    tag_registered_versions(client, run_id, evaluation.metrics)
    written = ""
    if evaluation.metrics.get("bundle_written"):
        # the registered model version points at the run's "bundle" artifacts: keep them equal to the local bundle
        switched = ("model.onnx",) if (evaluation.metrics.get("int8") or {}).get("switched") else ()
        cascade = ("blend.json",) if (evaluation.bundle_dir / "blend.json").is_file() else ()  # its fitted bar
        for name in ("calibration.json", "thresholds.json", "metadata.json", *switched, *cascade):
            client.log_artifact(run_id, str(evaluation.bundle_dir / name), artifact_path="bundle")
        versions = record_bundle_digest(run_id, evaluation.bundle_dir)  # else serving refuses the changed bundle
        written = " and updated calibration.json/thresholds.json in its bundle" + (
            f" (digest of registered version {', '.join(versions)} updated)" if versions else ""
        )
    return f"logged {len(numbers)} metrics and {len(files)} files to MLflow run {run_id}{written}"
