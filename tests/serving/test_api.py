"""POST /classify on a real server with the tiny bundle: shapes, order, context pairs, limits, parity."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from withyou.bundle import Classifier
from withyou.labels import ACTIONS, LABELS

REPLY = "Sure you were. Pics or it didn't happen."
PARENT = "My manager cornered me in the supply room last year and I never told anyone."


def test_single_item_gets_label_scores_action_and_model_version(server):
    response = server.classify([{"id": "p1", "text": "I believe you. Sending strength."}])

    assert response.status_code == 200
    (result,) = response.json()
    assert result["id"] == "p1"
    assert result["label"] in LABELS
    assert set(result["scores"]) == set(LABELS)
    assert math.isclose(sum(result["scores"].values()), 1.0, abs_tol=1e-6)
    assert result["label"] == max(result["scores"], key=result["scores"].get)
    assert result["action"] in ACTIONS
    assert result["model_version"] == "tiny-test"


def test_batch_results_come_back_in_request_order(server):
    items = [{"id": f"item-{i}", "text": f"post number {i} about the weather"} for i in range(40)]

    response = server.classify(items)

    assert response.status_code == 200
    assert [r["id"] for r in response.json()] == [item["id"] for item in items]


def test_item_without_id_gets_null_id(server):
    response = server.classify([{"text": "the company settled three lawsuits"}])

    assert response.json()[0]["id"] is None


def test_parent_text_changes_the_scores_of_a_reply(server):
    alone, in_context = server.classify(
        [{"id": "alone", "text": REPLY}, {"id": "reply", "text": REPLY, "parent_text": PARENT}]
    ).json()

    assert alone["scores"] != in_context["scores"]


def test_scores_match_the_classifier_run_in_process(server, tiny_bundle: Path):
    items = [{"id": "a", "text": REPLY, "parent_text": PARENT}, {"id": "b", "text": "me too. it happened to me at 14."}]

    served = server.classify(items).json()
    local = Classifier.from_bundle(tiny_bundle).predict(items)

    for result, prediction in zip(served, local):
        assert result["label"] == prediction.label
        assert result["action"] == prediction.action
        for label in LABELS:
            assert result["scores"][label] == pytest.approx(prediction.scores[label], abs=1e-5)


def test_blank_parent_text_is_treated_as_no_parent(server):
    without, blank = server.classify([{"text": REPLY}, {"text": REPLY, "parent_text": "   "}]).json()

    assert blank["scores"] == pytest.approx(without["scores"], abs=1e-6)


def test_empty_item_list_returns_empty_results(server):
    response = server.classify([])

    assert response.status_code == 200
    assert response.json() == []


def test_most_items_allowed_are_served(server):
    items = [{"id": str(i), "text": f"post {i}"} for i in range(256)]

    response = server.classify(items)

    assert response.status_code == 200
    assert [r["id"] for r in response.json()] == [str(i) for i in range(256)]


def test_longest_text_and_parent_allowed_are_served(server):
    longest = ("he followed me home every night. " * 160)[:5000]

    response = server.classify([{"id": "long", "text": longest, "parent_text": longest}])

    assert response.status_code == 200
    assert response.json()[0]["id"] == "long"


def test_concurrent_clients_each_get_their_own_results(server):
    """16 clients at once: the adaptive batcher mixes their items and must hand each its own slice, no 503."""

    def client(n: int) -> list[int]:
        statuses = []
        with httpx.Client(timeout=60) as http:
            for round_ in range(4):
                items = [{"id": f"c{n}-r{round_}-{i}", "text": f"client {n} post {i}"} for i in range(1 + n % 5)]
                response = http.post(f"{server.url}/classify", json={"items": items})
                statuses.append(response.status_code)
                if response.status_code == 200:
                    assert [r["id"] for r in response.json()] == [item["id"] for item in items]
        return statuses

    with ThreadPoolExecutor(16) as pool:
        statuses = [status for result in pool.map(client, range(16)) for status in result]

    assert statuses == [200] * 64
