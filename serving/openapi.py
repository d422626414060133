"""The OpenAPI spec at /docs.json, made true to what /classify answers.

BentoML generates the spec from the API's signature, but it does not know what the guard (serving/guard.py)
adds: it documents `detail` as a string (it is pydantic's list of problems), omits the 401/405/408/413/415/429
answers, allows any top-level field, and cannot express that `text` needs at least one character (the rule
lives in a validator, withyou.records.PostText). `OpenAPIDocs` rewrites the JSON BentoML serves, once per
request (the spec is small), and `true_spec` is the rewrite, testable on its own.
"""

from __future__ import annotations

import json
from typing import Any

from serving.guard import Receive, Scope, Send, send_json

# At least one character that Python's str.strip() keeps (withyou.records.PostText refuses blank text).
NOT_ONLY_WHITESPACE = "[^\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]"
ERROR = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = {
    "type": "object",
    "title": "Error",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "what is wrong, in one line"}},
}
PROBLEM = {
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "loc": {"type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
        "msg": {"type": "string"},
    },
}
GUARD_ANSWERS = {
    "401": "missing or wrong API key (when one is configured)",
    "405": "a method other than POST",
    "408": "the request body stopped arriving before it was complete",
    "413": "request body larger than max_body_bytes",
    "415": "a Content-Type other than JSON, or a compressed body (Content-Encoding)",
}
RETRY_HEADERS = {
    "Retry-After": {"description": "seconds to wait (whole, rounded up)", "schema": {"type": "integer"}},
    "Retry-After-Ms": {"description": "milliseconds to wait (the server's estimate)", "schema": {"type": "integer"}},
}


def json_content(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def true_spec(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    if "InvalidArgument" in schemas:
        schemas["InvalidArgument"]["properties"]["detail"] = {"type": "array", "items": PROBLEM}
    if "classify__Input" in schemas:
        schemas["classify__Input"]["additionalProperties"] = False
    text = schemas.get("ClassifyItem", {}).get("properties", {}).get("text")
    if text is not None:
        text["minLength"] = 1
        text["pattern"] = NOT_ONLY_WHITESPACE
    operation = spec.get("paths", {}).get("/classify", {}).get("post", {})
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body is not None:
        body["additionalProperties"] = False
        body.setdefault("properties", {})["explain"] = {
            "type": "boolean",
            "description": "explain every item that does not set its own `explain` (serving/guard.py)",
        }
        operation["requestBody"]["required"] = True
    responses = operation.get("responses")
    if responses is not None:
        responses.pop("404", None)  # /classify never answers 404
        for status, description in GUARD_ANSWERS.items():
            responses[status] = {"description": description, "content": json_content(ERROR)}
        retry_schema = {**ERROR_SCHEMA, "properties": {**ERROR_SCHEMA["properties"], "retry_after_ms": {"type": "integer"}}}
        responses["429"] = {
            "description": "over the worker's max_queued_items: retry after the given time",
            "headers": RETRY_HEADERS,
            "content": json_content(retry_schema),
        }
    return spec


class OpenAPIDocs:
    """ASGI middleware: serves `true_spec` of BentoML's /docs.json."""

    def __init__(self, app: Any, path: str = "/docs.json") -> None:
        self.app, self.path = app, path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "GET":
            await self.app(scope, receive, send)
            return
        captured: dict[str, Any] = {"status": 500, "body": b""}

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
            elif message["type"] == "http.response.body":
                captured["body"] += message.get("body", b"")

        await self.app(scope, receive, capture)
        if captured["status"] != 200:
            await send_json(send, captured["status"], captured["body"])
            return
        spec = true_spec(json.loads(captured["body"]))
        await send_json(send, 200, json.dumps(spec).encode("utf-8"))
