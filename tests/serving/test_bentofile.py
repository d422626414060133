"""Horizontal serving: `bentoml build` turns bentofile.yaml into a Bento that serves the staged bundle from a clean
environment built only from the Bento's own requirements, and the Kubernetes example parses and probes paths the
service has."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from serving.process import ServerStartError, free_port, start_process, stop_process
from tests.clean_env import clean_venv, installed
from withyou.paths import REPO_ROOT

@pytest.fixture(scope="module")
def built_bento(tiny_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`bentoml build` of a copy of the repository's service code with the tiny bundle staged where bentofile.yaml
    expects the champion (artifacts/bento/bundle), in a temporary BENTOML_HOME."""
    home, context = tmp_path_factory.mktemp("bentoml_home"), tmp_path_factory.mktemp("build_context")
    shutil.copy(REPO_ROOT / "bentofile.yaml", context)
    for package in ("withyou", "serving", "review"):
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


def test_bento_serves_english_and_french_from_an_environment_of_its_own_requirements(built_bento, tmp_path):
    """`bentoml serve withyou:latest` run by a venv holding only env/python/requirements.txt: no withyou, no dev
    packages, the code and bundle from the Bento's src/ (the working directory is elsewhere)."""
    python = clean_venv(built_bento / "env" / "python" / "requirements.txt", tmp_path / "venv")
    assert "withyou" not in installed(python) and "torch" not in installed(python)
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("WITHYOU_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"BENTOML_HOME": str(built_bento.parents[2]), "BENTOML_DO_NOT_TRACK": "true",
            "WITHYOU_BUNDLE": "artifacts/bento/bundle"}  # what the Bento's image sets; `bentoml serve` does not
    command = [str(python.with_name("bentoml")), "serve", "withyou:latest", "--host", "127.0.0.1", "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "bento.log"
    try:
        process = start_process(command, url, env, log_path, timeout_s=120, cwd=tmp_path)
    except ServerStartError as exc:
        raise AssertionError(f"{exc}:\n{log_path.read_text(errors='replace')[-3000:]}") from None
    try:
        items = [{"id": "en", "text": "me too. my manager, 2019. never told anyone"},
                 {"id": "fr", "text": "Moi aussi. Mon patron, en 2019. Je ne l'ai jamais dit à personne."}]
        response = httpx.post(f"{url}/classify", json={"items": items}, timeout=60)
    finally:
        stop_process(process)
    assert response.status_code == 200, response.text
    results = {result["id"]: result for result in response.json()}
    assert results["en"]["lang"] == "en" and results["fr"]["lang"] == "fr"
    labels = json.loads((built_bento / "src" / "artifacts" / "bento" / "bundle" / "labels.json").read_text())
    for result in results.values():
        assert result["label"] in labels and set(result["scores"]) == set(labels)
        assert result["model_version"] == "tiny-test"


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
