"""Schemathesis against the live OpenAPI spec, bounded for CI: every generated request, valid (positive) or not
(negative), gets an answer the spec documents and never a 5xx. benchmarks/fuzz_service.py runs it for longer,
with fresh random cases each run; here the cases are derandomized so CI is reproducible. The explanation cap,
which the spec states only in words, is kept by tests/serving/schemathesis_hooks.py."""

from __future__ import annotations

import httpx
import pytest

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, openapi

from tests.serving.schemathesis_hooks import explained_items  # noqa: E402  (importing it registers the hook)
from serving.config import ServingSettings  # noqa: E402

EXAMPLES = 20


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value)
def test_classify_fuzz_finds_no_server_error_or_schema_violation(server, mode):
    operation = openapi.from_url(f"{server.url}/docs.json")["/classify"]["POST"]

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        case.call_and_validate(timeout=60)

    check()


def test_the_hook_counts_items_as_the_server_does(server):
    cap = ServingSettings().max_explain_items
    at_cap = {"explain": True, "items": [{"text": "a"}] * (cap - 1) + [{"text": "b", "explain": False}, {"text": "c"}]}
    over = {"explain": True, "items": at_cap["items"] + [{"text": "d"}]}
    assert (explained_items(at_cap), explained_items(over)) == (cap, cap + 1)
    assert explained_items(["not", "a", "request"]) == 0
    with httpx.Client(timeout=120) as http:
        assert http.post(f"{server.url}/classify", json=at_cap).status_code == 200
        assert http.post(f"{server.url}/classify", json=over).status_code == 400


def test_the_spec_states_the_explanation_cap(server):
    spec = httpx.get(f"{server.url}/docs.json", timeout=30).json()
    item = spec["components"]["schemas"]["ClassifyItem"]["properties"]["explain"]
    assert f"at most {ServingSettings().max_explain_items} items per request" in item["description"]
