"""The reviewer app (FastAPI): JSON API under /api, web UI under /, mounted by the BentoML service at /review.

`serving_mount()` is the entry point the classifier service loads by name (serving setting `review_app`) and
mounts at /review; the service never imports this package. It is on only when a reviewers file is configured
(`WITHYOU_REVIEW_REVIEWERS_FILE`); otherwise every /review path answers 404 saying how to turn it on.
A reviewers file that cannot be read stops the server at start-up (fail loudly); a review database that is
down does not: /classify keeps working and /review answers 503 until the database is back.

`withyou review serve` runs the same app on its own (uvicorn), under the same /review prefix.

Labels: reviewers choose among the label set of a bundle (review/config.py: label_set) — inside
`withyou serve` the served bundle's labels.json, alone the `WITHYOU_REVIEW_BUNDLE` one, else withyou.labels.LABELS.

Errors: every answer, an unexpected exception's 500 included, goes out through SecurityHeaders and is JSON under
/api, HTML elsewhere; messages name ids and what is wrong, never post text, and a failure is logged by exception
type only. No exception reaches the server, so uvicorn never drops the keep-alive connection after an error.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from review import api, appeals_ui, ui
from review.config import ReviewSettings, get_review_settings, label_set
from review.security import Reviewers, ReviewerAuth, SecurityHeaders, UnexpectedErrors, wants_json
from review.store import ReviewError, ReviewStore
from review.wellness import Wellness
from withyou.logs import configure_logging

logger = logging.getLogger("withyou.review")
MOUNT_PATH = "/review"
MAX_LISTED_PROBLEMS = 5
ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"]


@dataclass(frozen=True)
class ServingMount:
    """serving.hooks.ReviewerMount: the app the classifier service mounts at `path`, and the middleware it wraps
    around everything under `path` (the router's own redirect /review → /review/ gets the security headers too)."""

    path: str
    app: Any
    middleware: type = SecurityHeaders


def serving_mount(served_bundle: str | None = None) -> ServingMount:
    """The classifier service's `review_app` entry point: review_app() mounted at /review."""
    return ServingMount(MOUNT_PATH, review_app(served_bundle=served_bundle))


def review_app(settings: ReviewSettings | None = None, served_bundle: str | None = None) -> Any:
    """The app to mount at /review: the reviewer service when configured, else a 404 stub.

    `served_bundle` is the bundle the classifier serves (serving/service.py): its labels are the reviewers'.
    """
    configure_logging()  # the one logging policy (withyou/logs.py): no post text, ids escaped
    settings = settings or get_review_settings()
    if settings.reviewers_file is None:
        return SecurityHeaders(disabled_app())
    return build_app(settings, labels=label_set(served_bundle or settings.bundle))


def build_app(settings: ReviewSettings, store: ReviewStore | None = None, labels: tuple[str, ...] | None = None) -> Any:
    """The reviewer app; `labels` default to label_set(settings.bundle) and must be the store's when both are given."""
    secret = settings.secret.get_secret_value() if settings.secret else ""
    reviewers = Reviewers.load(settings.reviewers_file, secret, classify_key=os.environ.get("WITHYOU_API_KEY"))
    labels = tuple(labels) if labels else label_set(settings.bundle)
    store = store or ReviewStore.from_settings(settings, labels=labels)
    if store.labels != labels:
        raise ValueError(f"the review store decides {list(store.labels)} but the app shows {list(labels)}")
    app = FastAPI(title="WithYou review", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.reviewers = reviewers
    app.state.store = store
    app.state.labels = labels
    app.state.wellness = Wellness.from_settings(store.engine, settings)
    app.include_router(api.router)
    app.include_router(ui.router)
    app.include_router(appeals_ui.router)
    # Claim every path and method under /review, so unknown ones also pass authentication (BentoML's mount is
    # passive), and a known path asked with another method gets 405 + Allow rather than this route's 404.
    app.add_api_route("/{path:path}", not_found_or_wrong_method, methods=ANY_METHOD, include_in_schema=False)
    app.add_exception_handler(ReviewError, review_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(SQLAlchemyError, store_down)
    app.add_middleware(ReviewerAuth, reviewers=reviewers)
    app.add_middleware(UnexpectedErrors, logger=logger)  # inside SecurityHeaders: its 500 gets the headers too
    app.add_middleware(SecurityHeaders)
    return app


def error_response(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    if wants_json(request.scope):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    if getattr(request.state, "reviewer", None) is None:
        return HTMLResponse(f"<!doctype html><title>{status}</title><p>error {status}</p>", status, headers=headers)
    return ui.error_page(request, status, message, headers)


async def review_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ReviewError)
    return error_response(request, exc.status, exc.message)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    problems = []
    for entry in exc.errors()[:MAX_LISTED_PROBLEMS]:
        where = ".".join(str(part) for part in entry.get("loc", ()) if part not in ("body", "query", "path"))
        problems.append(f"{where or 'body'}: {entry.get('msg', 'invalid')}")
    return error_response(request, 400, "invalid request: " + "; ".join(problems))


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
    return error_response(request, exc.status_code, message, headers=getattr(exc, "headers", None))


async def store_down(request: Request, exc: Exception) -> Response:
    logger.error("review store unavailable: %s", type(getattr(exc, "orig", None) or exc).__name__)
    return error_response(request, 503, "the review store is unavailable; try again shortly")


def not_found_or_wrong_method(request: Request, path: str) -> None:
    """405 with `Allow` (the methods another route takes this path with) when the path is known, else 404."""
    routes = request.app.router.routes
    others = [route for route in routes if getattr(route, "endpoint", None) is not not_found_or_wrong_method]
    allowed = [
        method
        for method in ANY_METHOD
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in others)
    ]
    if allowed:
        raise StarletteHTTPException(405, headers={"Allow": ", ".join(allowed)})
    raise StarletteHTTPException(404)


def disabled_app() -> Starlette:
    async def off(request: Request) -> JSONResponse:
        return JSONResponse(
            {"error": "the review service is off: set WITHYOU_REVIEW_REVIEWERS_FILE (see review/README.md)"},
            status_code=404,
        )

    from starlette.routing import Route

    return Starlette(routes=[Route("/{path:path}", off, methods=ANY_METHOD)])


def standalone_app() -> Any:
    """The reviewer app alone, under /review as in the BentoML service (for `withyou review serve`).

    /readyz (no credentials, no data) answers 200 once the app is built, for process managers and tests.
    """
    from starlette.routing import Route

    async def ready(request: Request) -> JSONResponse:
        return JSONResponse({"ready": True})

    routes = [Route("/readyz", ready), Mount(MOUNT_PATH, app=review_app())]
    return SecurityHeaders(Starlette(routes=routes), prefix=MOUNT_PATH)  # the router's /review → /review/ too
