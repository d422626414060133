"""Schemathesis against the live OpenAPI spec, bounded for CI: every generated request, valid (positive) or not
(negative), gets an answer the spec documents and never a 5xx. benchmarks/fuzz_service.py runs it for longer."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is in the [dev] extra")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode, openapi  # noqa: E402

EXAMPLES = 20


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value)
def test_classify_fuzz_finds_no_server_error_or_schema_violation(server, mode):
    operation = openapi.from_url(f"{server.url}/docs.json")["/classify"]["POST"]

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        case.call_and_validate(timeout=60)

    check()
