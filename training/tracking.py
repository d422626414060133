"""MLflow tracking and model registry for training runs (see mlflow/README.md).

Store: withyou.paths.mlflow_tracking_uri() — SQLite under mlflow/ with artifacts in mlflow/artifacts/, unless
MLFLOW_TRACKING_URI points elsewhere. Every run logs the resolved config, per-epoch metrics, the dataset
manifest's content_hash, final metrics, the bundle (which is also an MLflow pyfunc model: withyou/pyfunc.py) and
reports; the bundle becomes a new version of the registered model "withyou" with alias "challenger", tagged with
the bundle's content digest (withyou.registry.DIGEST_TAG), which serving checks. `promote` moves alias "champion"
(the tag stays with the version).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from withyou import paths
from withyou.integrity import bundle_digest
from withyou.registry import BUNDLE_ARTIFACT, CHALLENGER, CHAMPION, DIGEST_TAG, FLOOR_FAIL, FLOOR_TAG, MODEL_NAME

MODEL_DESCRIPTION = (
    "WithYou post classifier: ONNX bundles served without torch (bundle + MLflow pyfunc model). Each version's tags "
    "say which graph model.onnx is (shipped_graph: int8 or fp32, with the int8 rule's agreements), its test macro "
    "F1, and once `withyou evaluate` has run, the headline evaluation figures (eval_*) and the gate verdict (gate)."
)

EXPERIMENT = MODEL_NAME


class RegistryError(LookupError):
    """A registered model version or alias does not exist."""


class PromotionRefused(RegistryError):
    """The version may not become champion; the message says why, with the numbers."""


def sqlite_path(tracking_uri: str) -> Path:
    """The database file of a sqlite:/// URI (four slashes = absolute path, three = relative)."""
    return Path(tracking_uri[len("sqlite:///") :]).resolve()


def artifact_location(tracking_uri: str) -> str | None:
    """Explicit artifact root: mlflow/artifacts for the default store, beside the DB for another SQLite file,
    and the server's own choice for anything else."""
    if tracking_uri == f"sqlite:///{paths.mlflow_dir() / 'mlflow.db'}":
        return paths.mlflow_artifact_root()
    if tracking_uri.startswith("sqlite:///"):
        return (sqlite_path(tracking_uri).parent / "artifacts").as_uri()
    return None


def configure() -> str:
    """Point MLflow at the WithYou store and make sure the experiment exists; returns its id."""
    import mlflow

    uri = paths.mlflow_tracking_uri()
    if uri.startswith("sqlite:///"):
        sqlite_path(uri).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    return mlflow.create_experiment(EXPERIMENT, artifact_location=artifact_location(uri))


def flatten_metrics(models: dict[str, dict[str, dict[str, Any]]]) -> dict[str, float]:
    """{"transformer": {"test": {"macro_f1": .., "per_label_f1": {..}}}} → {"transformer.test.macro_f1": ..}."""
    flat: dict[str, float] = {}
    for model, splits in models.items():
        for split, metrics in splits.items():
            for key in ("macro_f1", "accuracy"):
                if metrics.get(key) is not None:
                    flat[f"{model}.{split}.{key}"] = float(metrics[key])
            for label, f1 in metrics.get("per_label_f1", {}).items():
                flat[f"{model}.{split}.f1.{label}"] = float(f1)
    return flat


class TrainingRun:
    """One MLflow run around `withyou train`; use as a context manager (a failed train marks the run FAILED)."""

    def __init__(self, params: dict[str, str], data_hash: str, model_version: str, tags: dict[str, str] | None = None):
        self.params, self.data_hash, self.model_version = params, data_hash, model_version
        self.tags = tags or {}
        self.run_id: str | None = None
        self.bundle_digest: str | None = None
        """withyou.integrity.bundle_digest of the bundle `log_outputs` logged; `register` records it."""

    def __enter__(self) -> "TrainingRun":
        import mlflow

        experiment_id = configure()
        run = mlflow.start_run(experiment_id=experiment_id, run_name=self.model_version)
        self.run_id = run.info.run_id
        mlflow.log_params({**self.params, "data_hash": self.data_hash, "model_version": self.model_version})
        mlflow.set_tags({"data_hash": self.data_hash, "model_version": self.model_version, **self.tags})
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        import mlflow

        mlflow.end_run(status="FAILED" if exc_type else "FINISHED")

    def log_epoch(self, epoch: Any) -> None:
        import mlflow

        mlflow.log_metrics(
            {"train_loss": epoch.train_loss, "val_macro_f1": epoch.val_macro_f1, "train_examples_per_s": epoch.examples_per_s},
            step=epoch.epoch,
        )

    def log_metrics(self, metrics: dict[str, float]) -> None:
        import mlflow

        mlflow.log_metrics(metrics)

    def log_params(self, params: dict[str, str]) -> None:
        """Params known only after training (the export's shipped graph)."""
        import mlflow

        mlflow.log_params(params)

    def log_outputs(self, model_dir: Path) -> None:
        """The bundle (artifact path "bundle") and the reports beside it; the torch checkpoint stays on disk."""
        import mlflow

        model_dir = Path(model_dir)
        self.bundle_digest = bundle_digest(model_dir / "bundle")
        mlflow.log_artifacts(str(model_dir / "bundle"), artifact_path=BUNDLE_ARTIFACT)
        self.log_pyfunc(model_dir / "bundle")
        for name in ("train_report.json", "confusion_matrix.png", "baseline.joblib"):
            if (model_dir / name).is_file():
                mlflow.log_artifact(str(model_dir / name), artifact_path="reports")

    def log_pyfunc(self, bundle_dir: Path) -> None:
        """Make the logged bundle an MLflow pyfunc model too (MLmodel + model code beside the bundle files), so
        `mlflow.pyfunc.load_model("models:/withyou@champion")` works and the bundle is stored once
        (withyou/pyfunc.py says why it is one directory)."""
        import tempfile

        import mlflow

        from withyou.pyfunc import write_pyfunc_files

        with tempfile.TemporaryDirectory(prefix="withyou-pyfunc-") as staging:
            pyfunc_dir = write_pyfunc_files(bundle_dir, Path(staging) / "pyfunc")
            mlflow.log_artifacts(str(pyfunc_dir), artifact_path=BUNDLE_ARTIFACT)

    def log_report(self, report_path: Path) -> None:
        import mlflow

        mlflow.log_artifact(str(report_path), artifact_path="reports")

    def register(self, description: str = "", tags: dict[str, str] | None = None) -> str:
        """Register the logged bundle as a new version of "withyou", tagged with its digest and `tags` (training
        passes the shipped graph and its figures), and point alias "challenger" at it."""
        import mlflow
        from mlflow import MlflowClient

        if self.bundle_digest is None:
            raise RegistryError("no bundle to register: log_outputs() logs it first")
        client = MlflowClient()
        if not client.search_registered_models(filter_string=f"name = '{MODEL_NAME}'"):
            client.create_registered_model(MODEL_NAME, description=MODEL_DESCRIPTION)
        else:
            client.update_registered_model(MODEL_NAME, description=MODEL_DESCRIPTION)
        version = client.create_model_version(
            MODEL_NAME,
            source=mlflow.get_artifact_uri(BUNDLE_ARTIFACT),
            run_id=self.run_id,
            tags={**(tags or {}), "data_hash": self.data_hash, "model_version": self.model_version,
                  DIGEST_TAG: self.bundle_digest},
            description=description,
        )
        client.set_registered_model_alias(MODEL_NAME, CHALLENGER, version.version)
        return str(version.version)


def promote(version: str | int, alias: str = CHAMPION) -> dict[str, Any]:
    """Point `alias` (default "champion") at an existing version of "withyou"; returns what moved."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    configure()
    client = MlflowClient()
    versions = sorted((str(v.version) for v in client.search_model_versions(f"name = '{MODEL_NAME}'")), key=int)
    if str(version) not in versions:
        known = ", ".join(versions) or "none — train one with `withyou train`"
        raise RegistryError(f"no version {version} of registered model {MODEL_NAME!r} (versions: {known})")
    try:
        previous = str(client.get_model_version_by_alias(MODEL_NAME, alias).version)
    except MlflowException:
        previous = None
    client.set_registered_model_alias(MODEL_NAME, alias, str(version))
    return {"model": MODEL_NAME, "alias": alias, "version": str(version), "previous": previous}



def check_champion(version: str | int) -> str:
    """The version's baseline-floor verdict (FLOOR_TAG, set by `withyou evaluate`) when it may become champion;
    raises PromotionRefused when it is a --fast smoke model (run tag PRESET_TAG "fast"), was never evaluated, or is
    below the floor (evaluation/gate.py `floor`)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from training.config import FAST_PRESET, PRESET_TAG

    configure()
    client = MlflowClient()
    try:
        registered = client.get_model_version(MODEL_NAME, str(version))
    except MlflowException:
        raise RegistryError(f"no version {version} of registered model {MODEL_NAME!r}") from None
    run_tags = client.get_run(registered.run_id).data.tags if registered.run_id else {}
    if run_tags.get(PRESET_TAG) == FAST_PRESET:
        raise PromotionRefused(f"version {version} is a --fast smoke model: never champion (it stays a challenger)")
    verdict = registered.tags.get(FLOOR_TAG)
    if verdict is None:
        raise PromotionRefused(f"version {version} has no baseline-floor verdict: run `withyou evaluate "
                               f"models:/{MODEL_NAME}/{version}` first")
    status, _, line = verdict.partition(": ")
    if status == FLOOR_FAIL:
        raise PromotionRefused(f"version {version} fails the promotion floor: {line}")
    return line
