"""Operations on a real server: health, readiness, Prometheus metrics, OpenAPI spec, logs without post text."""

from __future__ import annotations

import re
import time

import httpx
import pytest


def metric_value(text: str, name: str, **labels: str) -> float:
    """The value of one Prometheus sample (0 when absent), matching the given labels."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def scrape(server) -> str:
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz"])
def test_health_endpoints_answer_200(server, path):
    assert httpx.get(f"{server.url}{path}", timeout=10).status_code == 200


def test_metrics_count_requests_items_and_latency(server):
    before = scrape(server)
    results = server.classify([{"text": "a post"}, {"text": "another post"}]).json()
    after = scrape(server)

    assert metric_value(after, "withyou_requests_total", status="200") == metric_value(
        before, "withyou_requests_total", status="200"
    ) + 1
    label, action = results[0]["label"], results[0]["action"]
    assert metric_value(after, "withyou_items_total", label=label, action=action) > metric_value(
        before, "withyou_items_total", label=label, action=action
    )
    assert metric_value(after, "withyou_request_duration_seconds_count") == metric_value(
        before, "withyou_request_duration_seconds_count"
    ) + 1


def test_metrics_count_errors_by_reason(server):
    before = metric_value(scrape(server), "withyou_errors_total", reason="validation")
    server.classify([{"text": ""}])

    assert metric_value(scrape(server), "withyou_errors_total", reason="validation") == before + 1


def test_openapi_spec_documents_classify_and_its_limits(server):
    spec = httpx.get(f"{server.url}/docs.json", timeout=10).json()

    body = spec["paths"]["/classify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["items"]["maxItems"] == 256
    item = spec["components"]["schemas"]["ClassifyItem"]
    assert item["properties"]["text"]["maxLength"] == 5000
    assert set(spec["components"]["schemas"]["ClassifyResult"]["properties"]) == {
        "id",
        "label",
        "scores",
        "action",
        "model_version",
        "lang",
        "lang_confidence",
        "reason",
        "stage",
        "explanation",
        "thread_status",
    }
    assert "explain" in item["properties"]


def test_logs_carry_ids_and_labels_but_never_post_text(server):
    secret = "zebra-marker-text he touched me at the office party"
    result = server.classify([{"id": "log-probe-1", "text": secret, "parent_text": secret + " parent"}]).json()[0]
    server.classify([{"id": "log-probe-2", "text": secret, "extra": 1}])  # a rejected request, too
    time.sleep(0.5)  # let the worker flush its log lines

    log = server.log_text()
    assert f"log-probe-1={result['label']}/{result['action']}" in log
    assert "zebra-marker-text" not in log


def test_startup_log_reports_thread_count_and_no_api_key(server):
    log = server.log_text()

    assert re.search(r"loaded model tiny-test .* \d+ onnxruntime threads", log)
    assert "'api_key': 'off'" in log


def test_a_forged_id_cannot_forge_a_log_line(server):
    forged = "x\n2026-11-29T00:00:00+0000 [INFO] [cli] FORGED"
    assert server.classify([{"id": forged, "text": "hi"}, {"id": "bell\x07\x1b[2J\x00", "text": "hi"}]).status_code == 200
    time.sleep(0.5)

    log = server.log_text()
    assert not any(line.startswith("2026-11-29T00:00:00+0000") for line in log.splitlines())
    assert "x\\n2026-11-29T00:00:00+0000 [INFO] [cli] FORGED" in log
    assert "\x07" not in log and "\x1b" not in log and "\x00" not in log


def test_openapi_spec_is_true_to_the_answers(server):
    spec = httpx.get(f"{server.url}/docs.json", timeout=10).json()
    operation = spec["paths"]["/classify"]["post"]
    schemas = spec["components"]["schemas"]

    assert schemas["InvalidArgument"]["properties"]["detail"]["type"] == "array"
    assert schemas["ClassifyItem"]["properties"]["text"]["minLength"] == 1
    assert operation["requestBody"]["content"]["application/json"]["schema"]["additionalProperties"] is False
    assert {"405", "408", "413", "415", "429"} <= set(operation["responses"])
    assert set(operation["responses"]["429"]["headers"]) == {"Retry-After", "Retry-After-Ms"}
