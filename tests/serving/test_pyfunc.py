"""The MLflow pyfunc flavour: every registered version loads with mlflow.pyfunc, predicts like the Classifier,
never imports torch, and the registry's bundle download keeps working (withyou/pyfunc.py, serving/pyfunc.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from withyou.bundle import Classifier, Item

POSTS = [
    {"text": "me too. my manager, 2019. never told anyone", "parent_text": None},
    {"text": "Sure you were.", "parent_text": "me too. my manager, 2019. never told anyone"},
    {"text": "I believe you, and it was not your fault.", "parent_text": "it happened at work"},
    {"text": "the bus was late again today", "parent_text": ""},
]

LOAD_AND_PREDICT = """
import importlib.util, json, sys
assert importlib.util.find_spec("withyou") is None, "withyou is installed in the clean environment"
import mlflow, pandas as pd
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model("models:/withyou@champion")
frame = pd.DataFrame(json.loads(sys.argv[2]))
out = model.predict(frame)
print(json.dumps({"rows": out.to_dict(orient="records"), "columns": list(out.columns),
                  "torch": "torch" in sys.modules, "transformers": "transformers" in sys.modules}))
"""


@pytest.fixture(scope="module")
def registered_champion(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A temporary MLflow store in which training's own registration made version 1 and promote made it champion."""
    from training.tracking import TrainingRun, promote

    store = tmp_path_factory.mktemp("mlflow")
    uri = f"sqlite:///{store / 'mlflow.db'}"
    model_dir = store / "model"
    shutil.copytree(tiny_bundle, model_dir / "bundle")
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        with TrainingRun({"note": "pyfunc test"}, "tiny", "tiny-test") as run:
            run.log_outputs(model_dir)
            version = run.register()
        promote(version)
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
    return uri


def test_champion_loads_as_pyfunc_and_predicts_like_the_classifier_without_torch(
    registered_champion, tiny_bundle, pyfunc_python, tmp_path
):
    """In a clean environment built from the model's requirements.txt alone (no withyou, no dev packages)."""
    completed = subprocess.run(
        [str(pyfunc_python), "-I", "-c", LOAD_AND_PREDICT, registered_champion, json.dumps(POSTS)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    answer = json.loads(completed.stdout.strip().splitlines()[-1])

    classifier = Classifier.from_bundle(tiny_bundle)
    expected = classifier.predict([Item(text=p["text"], parent_text=p["parent_text"] or None) for p in POSTS])
    assert answer["columns"] == ["label", *(f"score_{label}" for label in classifier.labels), "action", "model_version",
                                 "lang", "lang_confidence", "reason", "stage"]  # fmt: skip
    assert [row["label"] for row in answer["rows"]] == [p.label for p in expected]
    assert [row["action"] for row in answer["rows"]] == [p.action for p in expected]
    for row, prediction in zip(answer["rows"], expected):
        result = prediction.as_result("tiny-test")
        scores = {f"score_{label}": score for label, score in result.pop("scores").items()}
        del result["id"]
        assert row == pytest.approx({**result, **scores}, abs=1e-6)
    assert answer["torch"] is False and answer["transformers"] is False


def test_registry_still_resolves_the_champion_to_a_plain_bundle(registered_champion, tmp_path, monkeypatch):
    from withyou.registry import resolve_bundle

    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered_champion)
    path = resolve_bundle("models:/withyou@champion", cache_dir=tmp_path)
    assert (path / "model.onnx").is_file() and (path / "MLmodel").is_file()
    assert Classifier.from_bundle(path).model_version == "tiny-test"


def test_a_local_bundle_loads_as_pyfunc_without_a_registry(tiny_bundle, tmp_path):
    import mlflow
    import pandas as pd

    from withyou.pyfunc import local_pyfunc_model

    model_dir = local_pyfunc_model(tiny_bundle, tmp_path / "pyfunc")
    assert (model_dir / "model.onnx").is_file() and (model_dir / "MLmodel").is_file()
    out = mlflow.pyfunc.load_model(str(model_dir)).predict(pd.DataFrame({"text": ["thank you for telling me"]}))
    assert out["label"].tolist() == [Classifier.from_bundle(tiny_bundle).predict([Item(text="thank you for telling me")])[0].label]


def test_pyfunc_requirements_are_the_torch_free_core():
    from withyou.pyfunc import PIP_REQUIREMENTS

    names = {requirement.split(">")[0].split("=")[0] for requirement in PIP_REQUIREMENTS}
    assert names.isdisjoint({"torch", "transformers", "bentoml"})
    assert {"onnxruntime", "tokenizers", "numpy"} <= names
