"""A bundle with a fifth label serves end to end (issue 20): POST /classify, `withyou score` and the pyfunc model
answer with the bundle's labels, not the four of withyou.labels.LABELS.

The tiny random model's head is biased towards the fifth label, so every post's `label` is "threat" — a label the
four-label vocabulary does not know — and every answer must carry a score for each of the five.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.serving.conftest import start_server, stop_server
from tests.tiny_bundles import parity_records, tiny_model
from withyou.bundle import Classifier

FIVE_LABELS = ("disclosure", "supportive", "harassing", "neutral", "threat")
POSTS = [
    {"id": "a", "text": "you are lying for attention, nobody believes you", "parent_text": "me too. my manager, 2019"},
    {"id": "b", "text": "the meeting moved to thursday afternoon"},
]


@pytest.fixture(scope="module")
def five_label_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny BERT with labels FIVE_LABELS whose head favours "threat", exported by training's own code."""
    import torch

    from training.export import export_bundle

    model, tokenizer = tiny_model("bert", FIVE_LABELS)
    with torch.no_grad():
        model.classifier.bias[FIVE_LABELS.index("threat")] = 5.0
    out_dir = tmp_path_factory.mktemp("five_labels") / "bundle"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_bundle(model, tokenizer, out_dir, max_length=48, parity_records=parity_records(),
                      metadata={"model_version": "tiny-five"})  # fmt: skip
    assert Classifier.from_bundle(out_dir).labels == list(FIVE_LABELS)
    return out_dir


def assert_five_label_answer(label: str, scores: dict[str, float]) -> None:
    assert label == "threat"
    assert list(scores) == list(FIVE_LABELS)
    assert sum(scores.values()) == pytest.approx(1.0, abs=1e-4)


def test_classify_answers_with_the_fifth_label_over_http(five_label_bundle, tmp_path):
    server = start_server(five_label_bundle, tmp_path / "server.log")
    try:
        response = server.classify(POSTS)
        spec = httpx.get(f"{server.url}/docs.json", timeout=30).json()
    finally:
        stop_server(server)
    assert response.status_code == 200, response.text
    results = response.json()
    assert [r["id"] for r in results] == ["a", "b"]
    for result in results:
        assert_five_label_answer(result["label"], result["scores"])
        assert result["model_version"] == "tiny-five"
    answer = spec["components"]["schemas"]["ClassifyResult"]["properties"]
    assert "enum" not in json.dumps(answer["label"]) and "served bundle" in answer["label"]["description"]


def test_withyou_score_writes_the_fifth_label_and_its_score_column(five_label_bundle, tmp_path):
    from orchestration.cli import app

    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(post) + "\n" for post in POSTS), encoding="utf-8")
    for output in ("out.jsonl", "out.csv"):
        result = CliRunner().invoke(
            app, ["score", str(source), "-o", str(tmp_path / output), "--bundle", str(five_label_bundle), "--no-progress"],
            catch_exceptions=False,
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [row["id"] for row in rows] == ["a", "b"]
    for row in rows:
        assert_five_label_answer(row["label"], row["scores"])
    header = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert header[:7] == ["id", "label", *(f"score_{label}" for label in FIVE_LABELS)]


def test_the_pyfunc_model_predicts_the_fifth_label_and_its_score_column(five_label_bundle, tmp_path):
    import mlflow
    import pandas as pd

    from withyou.pyfunc import local_pyfunc_model

    model_dir = local_pyfunc_model(five_label_bundle, tmp_path / "pyfunc")
    frame = pd.DataFrame({"text": [p["text"] for p in POSTS], "parent_text": [p.get("parent_text") for p in POSTS]})
    out = mlflow.pyfunc.load_model(str(model_dir)).predict(frame)
    assert list(out.columns[:6]) == ["label", *(f"score_{label}" for label in FIVE_LABELS)]
    for _, row in out.iterrows():
        assert_five_label_answer(row["label"], {label: row[f"score_{label}"] for label in FIVE_LABELS})
