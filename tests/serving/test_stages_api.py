"""A bundle with a linear stage and a cascade, served (issue 18): every answer says which stage decided, the
cascade's answers skip the transformer, a post in another language goes to the transformer alone, and /metrics
counts items by stage."""

from __future__ import annotations


import httpx
import numpy as np
import pytest

from tests.serving.conftest import start_server, stop_server
from withyou.bundle import Classifier
from withyou.integrity import read_json, write_bundle_json

BENIGN = "what a lovely sunny day at the beach with the kids"
TEXTS = [BENIGN, "Sure you were.", "I was groped on the bus this morning", "lol ok"]
FRENCH = "Je te crois. Ce qu'il t'a fait au bureau est inacceptable, tu n'es pas seule."


@pytest.fixture(scope="module")
def cascade_server(tiny_model, tmp_path_factory):
    from tests.blend_bundle import with_linear_stage

    bundle = with_linear_stage(tiny_model.bundle, tiny_model.splits, tmp_path_factory.mktemp("stages") / "bundle")
    classifier = Classifier.from_bundle(bundle)
    linear = classifier.linear_probabilities(TEXTS)[:, classifier.harassing_index]
    bar = float(np.sort(linear)[1:3].mean())  # two posts under it, two over
    write_bundle_json(bundle, "blend.json", {**read_json(bundle / "blend.json"), "cascade": {"linear_allow_below": bar}})
    write_bundle_json(bundle, "thresholds.json", {"review": 0.99, "hide": 0.995})
    server = start_server(bundle, tmp_path_factory.mktemp("stages_log") / "server.log")
    yield server, {text: p < bar for text, p in zip(TEXTS, linear)}
    stop_server(server)


def test_answers_say_which_stage_decided(cascade_server):
    server, answered_by_linear = cascade_server
    response = server.classify([{"id": str(i), "text": text} for i, text in enumerate(TEXTS)])

    assert response.status_code == 200
    for text, result in zip(TEXTS, response.json()):
        assert result["stage"] == ("linear" if answered_by_linear[text] else "blend")
        if result["stage"] == "linear":
            assert result["action"] == "allow"


def test_a_post_in_another_language_is_read_by_the_transformer_alone(cascade_server):
    server, _ = cascade_server
    (result,) = server.classify([{"text": FRENCH}]).json()

    assert result["lang"] == "fr" and result["stage"] == "transformer"


def test_metrics_count_items_by_stage(cascade_server):
    server, answered_by_linear = cascade_server
    server.classify([{"text": text} for text in TEXTS] + [{"text": FRENCH}])
    metrics = httpx.get(f"{server.url}/metrics", timeout=30).text

    for stage in ("linear", "blend", "transformer"):
        line = next(l for l in metrics.splitlines() if l.startswith(f'withyou_items_by_stage_total{{stage="{stage}"}}'))
        assert float(line.split()[-1]) >= 1
