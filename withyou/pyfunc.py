"""Write the MLflow pyfunc model of a bundle: the bundle directory itself becomes an MLflow model.

`write_pyfunc_files(bundle_dir, out_dir)` writes MLmodel, the model code (serving/pyfunc.py, an MLflow "model from
code"), `code/withyou/` (this torch-free core, so executors need not install withyou) and the requirement files
into `out_dir`. MLmodel names the bundle artifact as ".": the model directory *is* the bundle. Training uploads
these files into the run's `bundle/` artifacts, which every registered version points at, so:

- `mlflow.pyfunc.load_model("models:/withyou@champion")` loads it (serving/pyfunc.py: predict(df));
- `withyou.registry.resolve_bundle("models:/withyou@champion")` still downloads the bundle directory (with the
  pyfunc files beside its own, which the Classifier ignores);
- when evaluation later rewrites calibration.json/thresholds.json in the run's bundle, the pyfunc model reads the
  same files — there is no second copy to keep in step.

mlflow is imported only inside these functions; nothing here imports torch.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from pathlib import Path

from withyou import paths
from withyou.bundle import check_bundle_dir, read_json

PYFUNC_MODEL_CODE = paths.REPO_ROOT / "serving" / "pyfunc.py"
"""The PythonModel file MLflow runs at load time (a file path, not an import: training must not import serving)."""

PIP_REQUIREMENTS = ["numpy>=1.26", "pydantic>=2.6", "typer>=0.12", "rich>=13.7", "tqdm>=4.66", "tokenizers>=0.20",
                    "onnxruntime>=1.20", "py3langid>=0.4", "pandas>=2.0"]
"""What the model's code (code/withyou + serving/pyfunc.py) imports: pyproject.toml's core dependencies plus pandas
from the `spark` extra (tests/test_requirements.py checks it); MLflow adds its own pinned `mlflow` line."""

PYFUNC_FILES = ("MLmodel", "pyfunc.py", "code", "requirements.txt", "python_env.yaml", "conda.yaml")


def pyfunc_signature(labels: list[str]):
    """Input text + optional parent_text; output label, one score column per label, action, model_version, the
    language fields of withyou.bundle.Prediction (lang, lang_confidence, reason) and the stage that decided."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema([ColSpec("string", "text"), ColSpec("string", "parent_text", required=False)])
    outputs = Schema(
        [ColSpec("string", "label"), *(ColSpec("double", f"score_{label}") for label in labels),
         ColSpec("string", "action"), ColSpec("string", "model_version"), ColSpec("string", "lang", required=False),
         ColSpec("double", "lang_confidence"), ColSpec("string", "reason", required=False),
         ColSpec("string", "stage")]
    )  # fmt: skip
    return ModelSignature(inputs=inputs, outputs=outputs)


def write_pyfunc_files(bundle_dir: Path, out_dir: Path) -> Path:
    """Write the pyfunc model files for `bundle_dir` into `out_dir` (created; must not hold them yet)."""
    import mlflow
    from mlflow.models import Model

    bundle_dir, out_dir = Path(bundle_dir), Path(out_dir)
    check_bundle_dir(bundle_dir)
    labels = read_json(bundle_dir / "labels.json")
    with tempfile.TemporaryDirectory(prefix="withyou-pyfunc-") as staging:
        model_dir = Path(staging) / "model"
        # MLflow warns "no input example"; giving one would make it load the model before the bundle is beside it
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            mlflow.pyfunc.save_model(
                path=str(model_dir),
                python_model=str(PYFUNC_MODEL_CODE),
                code_paths=[str(paths.REPO_ROOT / "withyou")],
                pip_requirements=PIP_REQUIREMENTS,
                signature=pyfunc_signature(labels),
                model_config={"intra_op_threads": 0},  # 0 = onnxruntime's default; spark_udf passes its own
            )
        model = Model.load(str(model_dir))
        model.flavors["python_function"]["artifacts"] = {"bundle": {"path": "."}}
        model.flavors["python_function"]["model_code_path"] = PYFUNC_MODEL_CODE.name  # not this machine's path
        model.save(str(model_dir / "MLmodel"))
        shutil.rmtree(model_dir / "code" / "withyou" / "__pycache__", ignore_errors=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        for entry in model_dir.iterdir():
            shutil.move(str(entry), str(out_dir / entry.name))
    return out_dir


def local_pyfunc_model(bundle_dir: Path, out_dir: Path) -> Path:
    """A loadable pyfunc model directory for a local bundle: the pyfunc files plus the bundle's files, hard-linked
    where the file system allows (else copied; MLflow refuses symlinks that leave the model directory), for
    `mlflow.pyfunc.load_model(out_dir)` or `spark_udf` without a registry."""
    bundle_dir, out_dir = Path(bundle_dir).resolve(), Path(out_dir)
    write_pyfunc_files(bundle_dir, out_dir)
    for entry in bundle_dir.iterdir():
        target = out_dir / entry.name
        if entry.name in PYFUNC_FILES or target.exists() or not entry.is_file():
            continue
        try:
            os.link(entry, target)
        except OSError:
            shutil.copyfile(entry, target)
    return out_dir
