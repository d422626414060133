"""Schemathesis hooks for the fuzz runs: the one rule of POST /classify that its OpenAPI 3.0 spec cannot state.

At most `max_explain_items` items of a request may ask for an explanation (serving/schemas.py; an item asks
when it sets `"explain": true`, or sets nothing under a top-level `"explain": true`, serving/guard.py). The
spec says so in words only, so schemathesis' valid ("positive") data can break it and then rightly get a 400;
`filter_body` keeps such bodies out of the generated cases. Loaded by tests/serving/test_fuzz.py on import and
by benchmarks/fuzz_service.py through SCHEMATHESIS_HOOKS.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from serving.config import ServingSettings


def explained_items(body: Any) -> int:
    """How many items of a /classify body ask for an explanation (0 for a body that is not a request)."""
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return 0
    default = body.get("explain") is True
    return sum(
        1 for item in body["items"] if isinstance(item, dict) and item.get("explain", default) is True
    )


@schemathesis.hook
def filter_body(context: Any, body: Any) -> bool:
    return explained_items(body) <= ServingSettings().max_explain_items
