"""Horizontal serving: `bentoml build` turns bentofile.yaml into a Bento that serves the staged bundle, and the
Kubernetes example parses and probes paths the service has."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from withyou.paths import REPO_ROOT



@pytest.fixture(scope="module")
def built_bento(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bentoml build` of a copy of the repository's service code with the tiny bundle staged where bentofile.yaml
    expects the champion (artifacts/bento/bundle), in a temporary BENTOML_HOME."""
    home, context = tmp_path_factory.mktemp("bentoml_home"), tmp_path_factory.mktemp("build_context")
    shutil.copy(REPO_ROOT / "bentofile.yaml", context)
    for package in ("withyou", "serving"):
        shutil.copytree(REPO_ROOT / package, context / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(tiny_bundle, context / "artifacts" / "bento" / "bundle")
    env = {**os.environ, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true", "PYTHONPATH": str(context)}
    completed = subprocess.run([sys.executable, "-P", "-m", "bentoml", "build", str(context)], env=env, cwd=context,
                               capture_output=True, text=True, timeout=600)  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    [bento] = [p for p in (home / "bentos" / "withyou").iterdir() if p.name != "latest"]
    return bento


def test_bento_manifest_names_the_service_its_bundle_and_the_classify_api(built_bento):
    manifest = yaml.safe_load((built_bento / "bento.yaml").read_text())
    assert manifest["name"] == "withyou" and manifest["service"] == "serving.service:WithYou"
    assert {"name": "WITHYOU_BUNDLE", "value": "artifacts/bento/bundle", "stage": "all"} in manifest["envs"]
    assert "/classify" in [route["route"] for route in manifest["schema"]["routes"]]


def test_bento_carries_the_bundle_and_no_torch_code(built_bento):
    src = built_bento / "src"
    assert {p.name for p in (src / "artifacts" / "bento" / "bundle").iterdir()} >= {
        "model.onnx", "tokenizer.json", "labels.json", "thresholds.json", "calibration.json", "metadata.json"}
    assert (src / "serving" / "service.py").is_file() and not (src / "training").exists()
    packages = (built_bento / "env" / "python" / "requirements.txt").read_text()
    assert "onnxruntime" in packages and "torch" not in packages


def test_kubernetes_example_parses_and_probes_paths_the_service_has():
    documents = [d for d in yaml.safe_load_all((REPO_ROOT / "deploy" / "kubernetes.yaml").read_text()) if d]
    kinds = {d["kind"]: d for d in documents}
    assert set(kinds) == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    [container] = kinds["Deployment"]["spec"]["template"]["spec"]["containers"]
    service_source = (REPO_ROOT / "serving" / "service.py").read_text()
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert "__is_ready__" in service_source  # BentoML answers /readyz from it; /healthz is always there
    port = container["ports"][0]["containerPort"]
    assert kinds["Service"]["spec"]["ports"][0]["targetPort"] == port == 3000
    assert kinds["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == kinds["Deployment"]["metadata"]["name"]
